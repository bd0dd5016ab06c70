// pages/overview.js — The SOC overview (#/overview?period=24h): key figures, event rate and
// alerts by level over time (uPlot), top rules, hosts and users, an ATT&CK matrix of the
// techniques seen, and ingestion health (refreshed every 10 s). "All time" works for old data,
// and an empty period offers a link to all time.

import { t, has } from '../i18n.js';
import { api, isAbort, isMissing } from '../api.js';
import { h, replace, fmtNumber, parseTime } from '../util.js';
import { card, loading, empty, errorState, levelBadge, table, LEVELS } from '../ui.js';
import { timeChart, levelColor, palette } from '../charts.js';
import { fetchSeries, chooseSpan, rangeSeconds, clause } from '../query.js';
import { renderHealthCompact, sampleRate } from './health.js';

export const TACTICS = [
  'reconnaissance', 'resource-development', 'initial-access', 'execution', 'persistence',
  'privilege-escalation', 'defense-evasion', 'credential-access', 'discovery', 'lateral-movement',
  'collection', 'command-and-control', 'exfiltration', 'impact',
];

const PERIODS = { '1h': '-1h', '24h': '-24h', '7d': '-7d', '30d': '-30d', all: null };
const HEALTH_EVERY_MS = 10000;

/** Search link for `field = value` over a period. */
function searchHref(q, from) {
  const p = new URLSearchParams({ q });
  if (from) p.set('from', from);
  return `#/search?${p}`;
}

/** Summary computed in the browser from the alerts list, for servers without /alerts/summary. */
async function summaryFromAlerts({ from, to, spanSec }, signal) {
  const list = [];
  let before;
  let truncated = false;
  for (let page = 0; page < 5; page += 1) {
    const res = await api.get('/api/v1/alerts', { from, to, limit: 1000, before }, { signal });
    list.push(...(res.alerts || []));
    if (!res.next_before) break;
    before = res.next_before;
    if (page === 4) truncated = true;
  }
  const buckets = new Map();
  const rules = new Map();
  const techniques = new Map();
  for (const a of list) {
    const d = parseTime(a.first_seen);
    if (d) {
      const b = Math.floor(d.getTime() / 1000 / spanSec) * spanSec;
      if (!buckets.has(b)) buckets.set(b, Object.fromEntries(LEVELS.map((l) => [l, 0])));
      const lv = LEVELS.includes(a.level) ? a.level : 'informational';
      buckets.get(b)[lv] += 1;
    }
    const r = rules.get(a.rule_id) || { rule_id: a.rule_id, title: a.rule_title, level: a.level, count: 0 };
    r.count += 1;
    rules.set(a.rule_id, r);
    const tactics = (a.attack && a.attack.tactics) || [];
    for (const tech of (a.attack && a.attack.techniques) || []) {
      const e = techniques.get(tech) || { technique: tech, tactics: [], count: 0 };
      for (const tc of tactics) if (!e.tactics.includes(tc)) e.tactics.push(tc);
      e.count += 1;
      techniques.set(tech, e);
    }
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  if (keys.length) for (let k = keys[0]; k < keys[keys.length - 1]; k += spanSec) if (!buckets.has(k)) buckets.set(k, Object.fromEntries(LEVELS.map((l) => [l, 0])));
  return {
    total: list.length,
    truncated,
    buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => ({ time: new Date(k * 1000).toISOString(), ...v })),
    top_rules: [...rules.values()].sort((a, b) => b.count - a.count).slice(0, 20),
    techniques: [...techniques.values()].sort((a, b) => b.count - a.count),
  };
}

async function loadSummary(params, signal) {
  try {
    return await api.get('/api/v1/alerts/summary', { from: params.from, to: params.to, span: params.span }, { signal });
  } catch (e) {
    if (isMissing(e)) return summaryFromAlerts(params, signal);
    throw e;
  }
}

function spanSeconds(span) {
  const m = /^(\d+)([smhdw])$/.exec(span);
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]] : 3600;
}

/** The ATT&CK matrix: one column per tactic in kill-chain order, techniques coloured by count. */
export function attackMatrix(techniques) {
  const cols = TACTICS.map(() => []);
  let max = 0;
  for (const tc of techniques || []) {
    max = Math.max(max, Number(tc.count) || 0);
    for (const tactic of tc.tactics || []) {
      const i = TACTICS.indexOf(tactic);
      if (i >= 0) cols[i].push(tc);
    }
  }
  cols.forEach((c) => c.sort((a, b) => b.count - a.count || String(a.technique).localeCompare(String(b.technique))));
  const depth = Math.max(1, ...cols.map((c) => c.length));
  const rows = [];
  for (let r = 0; r < depth; r += 1) {
    rows.push(h('tr', {}, cols.map((c, ci) => {
      const tc = c[r];
      if (!tc) return h('td', { class: 'attack-empty' }, r === 0 ? h('span', { class: 'muted', 'aria-label': t('attack.none'), text: '·' }) : null);
      const heat = max ? Math.max(1, Math.ceil((tc.count / max) * 5)) : 1;
      const title = t('attack.cell_title', { technique: tc.technique, tactic: t(`tactic.${TACTICS[ci]}`), n: fmtNumber(tc.count) });
      return h('td', { class: `attack-cell heat-${heat}` },
        h('a', { href: `#/alerts?${new URLSearchParams({ q: tc.technique, status: 'all' })}`, title, 'aria-label': title, class: 'attack-link' },
          h('span', { class: 'attack-id', text: tc.technique }),
          h('span', { class: 'attack-count', text: fmtNumber(tc.count) })));
    })));
  }
  return h('div', { class: 'attack-wrap' },
    h('table', { class: 'attack-matrix', id: 'attack-matrix' },
      h('caption', { class: 'visually-hidden', text: t('overview.attack') }),
      h('thead', {}, h('tr', {}, TACTICS.map((tc) => h('th', { scope: 'col', text: has(`tactic.${tc}`) ? t(`tactic.${tc}`) : tc })))),
      h('tbody', {}, rows)),
    h('p', { class: 'legend-heat muted small' }, t('attack.legend_low'),
      [1, 2, 3, 4, 5].map((i) => h('span', { class: `heat-swatch heat-${i}`, 'aria-hidden': 'true' })), t('attack.legend_high')));
}

function topTable(res, field, from, caption) {
  const cols = res.columns || [];
  const vi = cols.indexOf(field);
  const ci = cols.indexOf('count');
  const pi = cols.indexOf('percent');
  const rows = (res.rows || []).filter((r) => r[vi] !== null && r[vi] !== undefined && r[vi] !== '');
  if (!rows.length) return empty(t('overview.no_values'));
  return table({
    caption,
    className: 'table compact',
    columns: [{ label: t(`field.${field}`) }, { label: t('col.count'), class: 'num' }, { label: t('col.percent'), class: 'num' }],
    rows: rows.map((r) => [
      h('a', { href: searchHref(clause(field, r[vi]), from), text: String(r[vi]) }),
      fmtNumber(r[ci]),
      pi >= 0 ? t('unit.percent', { n: fmtNumber(r[pi], { maximumFractionDigits: 1 }) }) : '',
    ]),
  });
}

export function mount(root, ctx) {
  let period = PERIODS[ctx.params.get('period')] !== undefined ? ctx.params.get('period') : '24h';
  let loadCtl = null;
  const charts = [];
  let healthTimer = null;
  let alive = true;
  let healthShown = false;
  let firstRateDone = false;

  const select = h('select', { id: 'overview-period', class: 'select' },
    Object.keys(PERIODS).map((p) => h('option', { value: p, selected: p === period, text: t(`period.${p}`) })));
  const refresh = h('button', { type: 'button', class: 'btn', id: 'overview-refresh', text: t('action.refresh') });
  const hint = h('p', { id: 'overview-empty-hint', class: 'hint', hidden: true },
    h('span', { text: `${t('overview.empty_period')} ` }),
    h('a', { href: '#/overview?period=all', id: 'overview-show-all', text: t('overview.show_all') }));

  const kpiBox = h('div', { class: 'kpis', id: 'overview-kpis', 'aria-live': 'polite' });
  const epsBox = h('div', { id: 'overview-eps', class: 'chart-box' });
  const levelsBox = h('div', { id: 'overview-alerts-chart', class: 'chart-box' });
  const rulesBox = h('div', { id: 'overview-top-rules' });
  const hostsBox = h('div', { id: 'overview-top-hosts' });
  const usersBox = h('div', { id: 'overview-top-users' });
  const attackBox = h('div', { id: 'overview-attack' });
  const healthBox = h('div', { id: 'overview-health' });
  const truncNote = h('p', { class: 'muted small', hidden: true, text: t('overview.truncated') });

  replace(root, h('section', { id: 'page-overview', class: 'page', 'aria-labelledby': 'overview-title' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'overview-title', text: t('overview.title') }),
      h('div', { class: 'toolbar' },
        h('label', { class: 'inline-field' }, h('span', { text: t('overview.period') }), select),
        refresh)),
    hint,
    kpiBox,
    h('div', { class: 'grid grid-2' },
      card(t('overview.event_rate'), epsBox, { id: 'card-eps' }),
      card(t('overview.alerts_by_level'), [levelsBox, truncNote], { id: 'card-levels' })),
    h('div', { class: 'grid grid-3' },
      card(t('overview.top_rules'), rulesBox, { id: 'card-top-rules' }),
      card(t('overview.top_hosts'), hostsBox, { id: 'card-top-hosts' }),
      card(t('overview.top_users'), usersBox, { id: 'card-top-users' })),
    card(t('overview.attack'), attackBox, { id: 'card-attack' }),
    card(t('overview.health'), healthBox, { id: 'card-health', actions: h('a', { href: '#/admin', class: 'small', hidden: !ctx.isAdmin, text: t('overview.health_details') }) })));

  const kpi = {};
  for (const [key, href] of [['events', null], ['alerts', '#/alerts?status=all'], ['open', '#/alerts?status=open'], ['rate', null], ['latency', null]]) {
    const value = h('span', { class: 'kpi-value', text: '…' });
    const sub = h('span', { class: 'kpi-sub muted small' });
    kpi[key] = { value, sub };
    const body = [h('span', { class: 'kpi-label', text: t(`overview.kpi_${key}`) }), value, sub];
    kpiBox.appendChild(href ? h('a', { class: 'kpi', href, id: `kpi-${key}` }, body) : h('div', { class: 'kpi', id: `kpi-${key}` }, body));
  }

  function destroyCharts() {
    while (charts.length) charts.pop().destroy();
  }

  function cardError(box, e) {
    if (isAbort(e) || !alive) return;
    replace(box, errorState(e, () => load()));
  }

  async function loadHealth() {
    try {
      const hl = await api.get('/api/v1/health', null, { signal: ctx.signal });
      if (!alive) return;
      const rate = sampleRate(hl);
      healthShown = true;
      replace(healthBox, renderHealthCompact(hl, rate));
      kpi.rate.value.textContent = rate === null || rate === undefined ? t('health.measuring') : t('unit.eps', { n: fmtNumber(rate, { maximumFractionDigits: 1 }) });
      kpi.rate.sub.textContent = t('overview.kpi_rate_sub');
      const lat = hl.detection && hl.detection.latency_ms;
      kpi.latency.value.textContent = lat && lat.samples ? t('unit.ms', { n: fmtNumber(lat.p50, { maximumFractionDigits: 1 }) }) : '—';
      kpi.latency.sub.textContent = lat && lat.samples ? t('overview.kpi_latency_sub', { p99: fmtNumber(lat.p99, { maximumFractionDigits: 1 }) }) : t('overview.kpi_latency_none');
    } catch (e) {
      if (!isAbort(e) && alive && !healthShown) cardError(healthBox, e);
    } finally {
      // A second sample soon after the first gives a rate without waiting a full period.
      if (alive) healthTimer = setTimeout(loadHealth, healthShown && !firstRateDone ? 2000 : HEALTH_EVERY_MS);
      if (healthShown) firstRateDone = true;
    }
  }

  async function load() {
    if (loadCtl) loadCtl.abort();
    loadCtl = new AbortController();
    const signal = AbortSignal.any ? AbortSignal.any([ctx.signal, loadCtl.signal]) : loadCtl.signal;
    const from = PERIODS[period];
    destroyCharts();
    hint.hidden = true;
    truncNote.hidden = true;
    for (const box of [epsBox, levelsBox, rulesBox, hostsBox, usersBox, attackBox]) replace(box, loading());
    for (const k of ['events', 'alerts', 'open']) {
      kpi[k].value.textContent = '…';
      kpi[k].sub.textContent = '';
    }
    const periodText = t(`period.${period}`);

    const seriesP = fetchSeries({ filter: '*', from, signal });
    const eventsDone = seriesP.then((s) => {
      kpi.events.value.textContent = fmtNumber(s.total);
      kpi.events.sub.textContent = periodText;
      if (!s.times.length || s.empty) {
        replace(epsBox, empty(t('overview.no_events')));
        return s.total;
      }
      epsBox.replaceChildren();
      charts.push(timeChart(epsBox, {
        kind: 'line',
        times: s.times,
        spanSec: s.spanSec,
        xRange: s.range,
        label: t('overview.event_rate'),
        series: [{ label: t('overview.eps_series', { span: s.span }), values: s.counts.map((c) => c / s.spanSec), color: palette(0) }],
        valueFormat: (v) => (v === null || v === undefined ? '—' : t('unit.eps', { n: fmtNumber(v, { maximumFractionDigits: 3 }) })),
        height: 200,
      }));
      return s.total;
    }).catch((e) => {
      cardError(epsBox, e);
      kpi.events.value.textContent = '—';
      return -1;
    });

    const summaryDone = (async () => {
      let params;
      if (from) {
        const secs = rangeSeconds(from);
        const span = chooseSpan(secs, 100)[0];
        const now = Date.now() / 1000;
        params = { from, span, spanSec: spanSeconds(span), range: [now - secs, now] };
      } else {
        const s = await seriesP.catch(() => null);
        if (s && s.times.length) {
          params = {
            from: new Date(s.times[0] * 1000).toISOString(),
            to: new Date((s.times[s.times.length - 1] + s.spanSec) * 1000).toISOString(),
            span: s.span,
            spanSec: s.spanSec,
          };
        } else {
          params = { span: '1d', spanSec: 86400 };
        }
      }
      const sum = await loadSummary(params, signal);
      if (!alive) return 0;
      kpi.alerts.value.textContent = fmtNumber(sum.total);
      kpi.alerts.sub.textContent = periodText;
      truncNote.hidden = !sum.truncated;
      const buckets = sum.buckets || [];
      if (!buckets.length) {
        replace(levelsBox, empty(t('overview.no_alerts')));
      } else {
        levelsBox.replaceChildren();
        const times = buckets.map((b) => (parseTime(b.time) || new Date(0)).getTime() / 1000);
        charts.push(timeChart(levelsBox, {
          kind: 'bars',
          stacked: true,
          times,
          spanSec: sum.span_secs || params.spanSec,
          xRange: params.range,
          label: t('overview.alerts_by_level'),
          series: LEVELS.map((l) => ({ label: t(`level.${l}`), values: buckets.map((b) => Number(b[l]) || 0), color: levelColor(l) })),
          valueFormat: (v) => fmtNumber(v),
          height: 200,
        }));
      }
      const top = sum.top_rules || [];
      replace(rulesBox, top.length ? table({
        caption: t('overview.top_rules'),
        className: 'table compact',
        columns: [{ label: t('col.level') }, { label: t('col.rule') }, { label: t('col.alerts'), class: 'num' }],
        rows: top.slice(0, 10).map((r) => [
          levelBadge(r.level),
          h('a', { href: `#/rules/${encodeURIComponent(r.rule_id)}`, text: r.title || r.rule_id }),
          h('a', { href: `#/alerts?${new URLSearchParams({ rule: r.rule_id, status: 'all' })}`, text: fmtNumber(r.count), 'aria-label': t('overview.rule_alerts', { n: fmtNumber(r.count), rule: r.title || r.rule_id }) }),
        ]),
      }) : empty(t('overview.no_alerts')));
      replace(attackBox, (sum.techniques || []).length ? attackMatrix(sum.techniques) : empty(t('overview.no_techniques')));
      return sum.total;
    })().catch((e) => {
      cardError(levelsBox, e);
      cardError(rulesBox, e);
      cardError(attackBox, e);
      kpi.alerts.value.textContent = '—';
      return -1;
    });

    const top = (field, box) => api.post('/api/v1/search', { query: `* | top 10 ${field}`, from: from || undefined }, { signal })
      .then((res) => { if (alive) replace(box, topTable(res, field, from, t(`overview.top_${field === 'host.name' ? 'hosts' : 'users'}`))); })
      .catch((e) => cardError(box, e));
    top('host.name', hostsBox);
    top('user.name', usersBox);

    api.get('/api/v1/alerts', { status: 'open', limit: 1 }, { signal }).then((res) => {
      const c = res.counts || {};
      kpi.open.value.textContent = fmtNumber(c.open);
      kpi.open.sub.textContent = t('overview.kpi_open_sub', { ack: fmtNumber(c.acknowledged) });
    }).catch((e) => { if (!isAbort(e)) kpi.open.value.textContent = '—'; });

    const [events, alertsN] = await Promise.all([eventsDone, summaryDone]);
    if (alive && period !== 'all' && events === 0 && alertsN === 0) hint.hidden = false;
  }

  select.addEventListener('change', () => {
    period = select.value;
    ctx.setParams(new URLSearchParams({ period }));
    load();
  });
  refresh.addEventListener('click', () => load());

  replace(healthBox, loading());
  load();
  loadHealth();

  return {
    update(params) {
      const p = params.get('period');
      const next = PERIODS[p] !== undefined ? p : '24h';
      if (next !== period) {
        period = next;
        select.value = period;
        load();
      }
    },
    unmount() {
      alive = false;
      clearTimeout(healthTimer);
      if (loadCtl) loadCtl.abort();
      destroyCharts();
    },
  };
}

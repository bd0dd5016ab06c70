// pages/alerts.js — The live alert queue (#/alerts?status=open&level=&kind=&origin=&range=&q=&rule=):
// polls GET /api/v1/alerts every 5 s and updates the table in place (new alerts highlighted and
// announced), filters by status, level, kind, time range and text (client side), shows the counts
// per status, pages with "load more", and runs bulk acknowledge / assign / close on selected rows.

import { t, tn, has } from '../i18n.js';
import { api, isAbort } from '../api.js';
import { h, replace, fmtNumber, timeEl, fmtTime } from '../util.js';
import { loading, empty, errorState, levelBadge, statusBadge, guard } from '../ui.js';
import { askAssignee, askClose, runAction } from './triage.js';

const POLL_MS = 5000;
const PAGE = 100;
const NEW_FOR_MS = 60000;
const STATUSES = ['open', 'acknowledged', 'closed', 'all'];
const LEVEL_FILTERS = ['', 'critical', 'critical,high', 'critical,high,medium', 'high', 'medium', 'low', 'informational'];
const KINDS = ['', 'detection', 'correlation', 'anomaly'];
/** Where alerts come from: live detection or a retro-hunt (the API's `retro` filter). */
const ORIGINS = { '': undefined, live: 'false', retro: 'true' };
const RANGES = { all: null, '1h': '-1h', '24h': '-24h', '7d': '-7d', '30d': '-30d' };

function readFilters(params) {
  const status = STATUSES.includes(params.get('status')) ? params.get('status') : 'open';
  const level = LEVEL_FILTERS.includes(params.get('level') || '') ? (params.get('level') || '') : '';
  const kind = KINDS.includes(params.get('kind') || '') ? (params.get('kind') || '') : '';
  const range = Object.prototype.hasOwnProperty.call(RANGES, params.get('range')) ? params.get('range') : 'all';
  const origin = Object.prototype.hasOwnProperty.call(ORIGINS, params.get('origin') || '') ? (params.get('origin') || '') : '';
  return { status, level, kind, origin, range, q: params.get('q') || '', rule: params.get('rule') || '' };
}

function filterParams(f) {
  const p = new URLSearchParams();
  if (f.status !== 'open') p.set('status', f.status);
  if (f.level) p.set('level', f.level);
  if (f.kind) p.set('kind', f.kind);
  if (f.origin) p.set('origin', f.origin);
  if (f.range !== 'all') p.set('range', f.range);
  if (f.q) p.set('q', f.q);
  if (f.rule) p.set('rule', f.rule);
  return p;
}

/** Text searched by the client-side filter. */
function haystack(a) {
  return [
    a.id, a.rule_title, a.rule_id, a.assignee, a.kind, a.level,
    ...(a.tags || []),
    ...((a.attack && a.attack.techniques) || []),
    ...((a.attack && a.attack.tactics) || []),
    ...(a.entities || []).map((e) => `${e.kind}:${e.value}`),
  ].filter((x) => x !== null && x !== undefined).join('\n').toLowerCase();
}

export function entityChips(entities, max = 4) {
  const list = entities || [];
  return h('span', { class: 'chips' },
    list.slice(0, max).map((e) => h('span', { class: `chip entity entity-${e.kind}`, title: `${e.kind}: ${e.value}` },
      h('span', { class: 'chip-kind', text: has(`entity.${e.kind}`) ? t(`entity.${e.kind}`) : e.kind }), h('span', { class: 'chip-value', text: String(e.value) }))),
    list.length > max ? h('span', { class: 'chip more', text: t('alerts.more_entities', { n: list.length - max }) }) : null);
}

export function mount(root, ctx) {
  let filters = readFilters(ctx.params);
  let alerts = []; // in API order
  const rows = new Map(); // id -> {row, alert, checkbox}
  const selected = new Set();
  const known = new Set();
  const newSince = new Map(); // id -> ms when first seen
  let firstLoad = true;
  let nextBefore = null;
  let loaded = PAGE;
  let timer = null;
  let paused = false;
  let alive = true;
  let inflight = null;

  // ------------------------------------------------------------ elements
  const opt = (value, label, cur) => h('option', { value, selected: value === cur, text: label });
  const statusSel = h('select', { id: 'alerts-status', class: 'select' }, STATUSES.map((s) => opt(s, t(`alerts.status_${s}`), filters.status)));
  const levelSel = h('select', { id: 'alerts-level', class: 'select' }, LEVEL_FILTERS.map((l) => opt(l, t(`alerts.level_${l ? l.replace(/,/g, '_') : 'all'}`), filters.level)));
  const kindSel = h('select', { id: 'alerts-kind', class: 'select' }, KINDS.map((k) => opt(k, t(`alerts.kind_${k || 'all'}`), filters.kind)));
  const originSel = h('select', { id: 'alerts-origin', class: 'select' }, Object.keys(ORIGINS).map((o) => opt(o, t(`alerts.origin_${o || 'all'}`), filters.origin)));
  const rangeSel = h('select', { id: 'alerts-range', class: 'select' }, Object.keys(RANGES).map((r) => opt(r, t(`period.${r}`), filters.range)));
  const textIn = h('input', { id: 'alerts-text', type: 'search', class: 'input', placeholder: t('alerts.text_placeholder'), value: filters.q });
  const ruleChip = h('span', { class: 'rule-filter', id: 'alerts-rule-filter' });
  const counts = h('div', { id: 'alerts-counts', class: 'status-counts', 'aria-live': 'polite', role: 'group', 'aria-label': t('alerts.counts_label') });
  const live = h('span', { id: 'alerts-live', class: 'live muted small', 'aria-live': 'off' });
  const pauseBtn = h('button', { id: 'alerts-pause', type: 'button', class: 'btn btn-small', 'aria-pressed': 'false', text: t('alerts.pause') });
  const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'alerts-announcer' });

  const selectAll = h('input', { id: 'alerts-select-all', type: 'checkbox', 'aria-label': t('alerts.select_all') });
  const selCount = h('span', { id: 'alerts-selected-count', class: 'muted', 'aria-live': 'polite' });
  const ackBtn = guard(h('button', { id: 'bulk-ack', type: 'button', class: 'btn', text: t('alerts.bulk_ack') }), ctx);
  const assignBtn = guard(h('button', { id: 'bulk-assign', type: 'button', class: 'btn', text: t('alerts.bulk_assign') }), ctx);
  const closeBtn = guard(h('button', { id: 'bulk-close', type: 'button', class: 'btn', text: t('alerts.bulk_close') }), ctx);
  const bulkBtns = [ackBtn, assignBtn, closeBtn];

  const tbody = h('tbody', {});
  const tableEl = h('table', { id: 'alerts-table', class: 'table alerts-table' },
    h('caption', { class: 'visually-hidden', text: t('alerts.table_caption') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-check' }, selectAll),
      h('th', { scope: 'col', text: t('col.level') }),
      h('th', { scope: 'col', text: t('col.rule') }),
      h('th', { scope: 'col', text: t('col.entities') }),
      h('th', { scope: 'col', class: 'num', text: t('col.count') }),
      h('th', { scope: 'col', text: t('col.first_seen') }),
      h('th', { scope: 'col', text: t('col.last_seen') }),
      h('th', { scope: 'col', text: t('col.status') }),
      h('th', { scope: 'col', text: t('col.assignee') }))),
    tbody);
  const stateBox = h('div', { class: 'table-state' });
  const moreBtn = h('button', { id: 'alerts-more', type: 'button', class: 'btn', hidden: true, text: t('alerts.more') });

  replace(root, h('section', { id: 'page-alerts', class: 'page page-wide', 'aria-labelledby': 'alerts-title' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'alerts-title', text: t('alerts.title') }),
      h('div', { class: 'toolbar' }, live, pauseBtn, h('a', { href: '#/suppressions', id: 'alerts-suppressions', class: 'btn btn-ghost btn-small', text: t('alerts.suppressions') }))),
    counts,
    h('div', { class: 'filters', role: 'group', 'aria-label': t('alerts.filters') },
      h('label', { class: 'inline-field' }, h('span', { text: t('col.status') }), statusSel),
      h('label', { class: 'inline-field' }, h('span', { text: t('col.level') }), levelSel),
      h('label', { class: 'inline-field' }, h('span', { text: t('alerts.kind') }), kindSel),
      h('label', { class: 'inline-field' }, h('span', { text: t('alerts.origin') }), originSel),
      h('label', { class: 'inline-field' }, h('span', { text: t('alerts.range') }), rangeSel),
      h('label', { class: 'inline-field grow' }, h('span', { text: t('alerts.text') }), textIn),
      ruleChip),
    h('div', { class: 'bulkbar', role: 'group', 'aria-label': t('alerts.bulk_label') }, selCount, ...bulkBtns),
    announcer,
    h('div', { class: 'table-scroll' }, tableEl),
    stateBox,
    moreBtn));

  // ------------------------------------------------------------ filters
  function renderRuleChip() {
    replace(ruleChip);
    if (!filters.rule) return;
    ruleChip.appendChild(h('span', { class: 'chip' }, t('alerts.rule_filter', { rule: filters.rule }),
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': t('alerts.rule_filter_remove'), text: '×',
        onclick: () => { filters.rule = ''; changed(); },
      })));
  }

  function changed() {
    ctx.setParams(filterParams(filters));
    renderRuleChip();
    reload();
  }
  statusSel.addEventListener('change', () => { filters.status = statusSel.value; changed(); });
  levelSel.addEventListener('change', () => { filters.level = levelSel.value; changed(); });
  kindSel.addEventListener('change', () => { filters.kind = kindSel.value; changed(); });
  originSel.addEventListener('change', () => { filters.origin = originSel.value; changed(); });
  rangeSel.addEventListener('change', () => { filters.range = rangeSel.value; changed(); });
  textIn.addEventListener('input', () => {
    filters.q = textIn.value.trim();
    ctx.setParams(filterParams(filters));
    applyTextFilter();
  });

  function matchesText(a) {
    if (!filters.q) return true;
    const needle = filters.q.toLowerCase();
    return haystack(a).includes(needle);
  }

  function applyTextFilter() {
    let visible = 0;
    for (const { row, alert } of rows.values()) {
      row.hidden = !matchesText(alert);
      if (!row.hidden) visible += 1;
    }
    showState(visible);
    syncSelection();
  }

  function showState(visible) {
    if (!alerts.length) replace(stateBox, empty(t(filters.status === 'open' ? 'alerts.none_open' : 'alerts.none')));
    else if (!visible) replace(stateBox, empty(t('alerts.none_match_text')));
    else replace(stateBox);
  }

  // ------------------------------------------------------------ selection
  function syncSelection() {
    for (const id of [...selected]) if (!rows.has(id)) selected.delete(id);
    const visible = [...rows.values()].filter((r) => !r.row.hidden);
    const nSel = visible.filter((r) => selected.has(r.alert.id)).length;
    selectAll.checked = visible.length > 0 && nSel === visible.length;
    selectAll.indeterminate = nSel > 0 && nSel < visible.length;
    selCount.textContent = selected.size ? tn('alerts.selected', selected.size) : t('alerts.select_hint');
    if (ctx.canWrite) for (const b of bulkBtns) b.disabled = selected.size === 0;
  }
  selectAll.addEventListener('change', () => {
    for (const { row, alert, checkbox } of rows.values()) {
      if (row.hidden) continue;
      checkbox.checked = selectAll.checked;
      if (selectAll.checked) selected.add(alert.id);
      else selected.delete(alert.id);
      row.classList.toggle('is-selected', selectAll.checked);
    }
    syncSelection();
  });

  // ------------------------------------------------------------ rows
  function cells(a) {
    const techniques = (a.attack && a.attack.techniques) || [];
    return [
      levelBadge(a.level),
      h('span', { class: 'alert-title-cell' },
        h('a', { href: `#/alerts/${encodeURIComponent(a.id)}`, class: 'alert-link', text: a.rule_title || a.rule_id }),
        h('span', { class: 'muted small alert-sub' },
          `#${a.id} · ${has(`alerts.kind_${a.kind}`) ? t(`alerts.kind_${a.kind}`) : a.kind}`,
          a.retro ? ` · ${t('alerts.retro')}` : '',
          techniques.length ? ` · ${techniques.join(', ')}` : '')),
      entityChips(a.entities),
      fmtNumber(a.count ?? a.event_count),
      timeEl(a.first_seen, { ms: false }),
      timeEl(a.last_seen, { ms: false }),
      statusBadge(a.status),
      a.assignee ? h('span', { text: a.assignee }) : h('span', { class: 'muted', text: t('alerts.unassigned') }),
    ];
  }

  function buildRow(a) {
    const checkbox = h('input', { type: 'checkbox', class: 'alert-select', 'aria-label': t('alerts.select_one', { id: a.id, title: a.rule_title || '' }) });
    checkbox.checked = selected.has(a.id);
    checkbox.addEventListener('change', () => {
      if (checkbox.checked) selected.add(a.id);
      else selected.delete(a.id);
      row.classList.toggle('is-selected', checkbox.checked);
      syncSelection();
    });
    const row = h('tr', { class: `alert-row level-row-${a.level}`, dataset: { id: String(a.id) } });
    row.addEventListener('click', (e) => {
      if (e.target.closest('a, button, input, label, .col-check')) return;
      if (window.getSelection && String(window.getSelection()).length) return;
      ctx.navigate(`#/alerts/${encodeURIComponent(a.id)}`);
    });
    const entry = { row, alert: a, checkbox, sig: '' };
    fillRow(entry, a);
    return entry;
  }

  function fillRow(entry, a) {
    const sig = `${a.updated_at}|${a.count}|${a.status}|${a.assignee}|${a.last_seen}`;
    entry.alert = a;
    if (sig === entry.sig) return;
    entry.sig = sig;
    const tds = [h('td', { class: 'col-check' }, entry.checkbox), ...cells(a).map((c, i) => h('td', { class: i === 3 ? 'num' : '' }, c))];
    entry.row.replaceChildren(...tds);
    entry.row.classList.toggle('is-closed', a.status === 'closed');
  }

  /** Puts the table in the order of `list`, reusing rows, without moving unchanged ones. */
  function reconcile(list) {
    const wanted = new Set(list.map((a) => a.id));
    for (const [id, entry] of rows) {
      if (!wanted.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    }
    let cursor = tbody.firstElementChild;
    const fresh = [];
    for (const a of list) {
      let entry = rows.get(a.id);
      if (!entry) {
        entry = buildRow(a);
        rows.set(a.id, entry);
        if (!firstLoad && !known.has(a.id)) {
          newSince.set(a.id, Date.now());
          fresh.push(a);
        }
      } else {
        fillRow(entry, a);
      }
      known.add(a.id);
      const isNew = newSince.has(a.id) && Date.now() - newSince.get(a.id) < NEW_FOR_MS;
      entry.row.classList.toggle('is-new', isNew);
      if (entry.row === cursor) {
        cursor = cursor.nextElementSibling;
      } else {
        tbody.insertBefore(entry.row, cursor);
      }
    }
    if (fresh.length) announcer.textContent = tn('alerts.new_arrived', fresh.length);
  }

  function renderCounts(c) {
    const entries = [['open', c.open], ['acknowledged', c.acknowledged], ['closed', c.closed]];
    replace(counts, entries.map(([s, n]) => h('button', {
      type: 'button', class: `count-pill status-${s}`, 'aria-pressed': String(filters.status === s), id: `alerts-count-${s}`,
      onclick: () => { filters.status = s; statusSel.value = s; changed(); },
    }, h('span', { class: 'count-label', text: t(`status.${s}`) }), h('span', { class: 'count-value', text: fmtNumber(n) }))));
  }

  // ------------------------------------------------------------ loading
  function query(limit, before) {
    return {
      status: filters.status === 'all' ? undefined : filters.status,
      level: filters.level || undefined,
      kind: filters.kind || undefined,
      retro: ORIGINS[filters.origin],
      rule_id: filters.rule || undefined,
      from: RANGES[filters.range] || undefined,
      limit,
      before,
    };
  }

  async function refresh() {
    if (inflight) return;
    const myFilters = JSON.stringify(filters);
    inflight = api.get('/api/v1/alerts', query(Math.min(1000, Math.max(PAGE, loaded))), { signal: ctx.signal });
    try {
      const res = await inflight;
      if (!alive || myFilters !== JSON.stringify(filters)) return;
      alerts = res.alerts || [];
      if (firstLoad) nextBefore = res.next_before ?? null;
      reconcile(alerts);
      firstLoad = false;
      renderCounts(res.counts || {});
      moreBtn.hidden = !(nextBefore && alerts.length >= loaded);
      applyTextFilter();
      live.textContent = t('alerts.updated', { time: fmtTime(new Date(), { ms: false }) });
    } catch (e) {
      if (isAbort(e)) return;
      if (firstLoad) replace(stateBox, errorState(e, () => reload()));
      else live.textContent = t('alerts.poll_failed', { message: e.message || '' });
    } finally {
      inflight = null;
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!alive) return;
    timer = setTimeout(async () => {
      if (!paused && !document.hidden) await refresh();
      schedule();
    }, POLL_MS);
  }

  function reload() {
    for (const { row } of rows.values()) row.remove();
    rows.clear();
    selected.clear();
    firstLoad = true;
    loaded = PAGE;
    nextBefore = null;
    alerts = [];
    replace(stateBox, loading());
    inflight = null;
    refresh().then(schedule);
  }

  moreBtn.addEventListener('click', async () => {
    if (!nextBefore) return;
    moreBtn.disabled = true;
    try {
      const res = await api.get('/api/v1/alerts', query(PAGE, nextBefore), { signal: ctx.signal });
      const extra = (res.alerts || []).filter((a) => !rows.has(a.id));
      alerts = alerts.concat(extra);
      loaded = alerts.length;
      nextBefore = res.next_before ?? null;
      for (const a of extra) known.add(a.id);
      reconcile(alerts);
      moreBtn.hidden = !nextBefore;
      applyTextFilter();
    } catch (e) {
      if (!isAbort(e)) replace(stateBox, errorState(e));
    } finally {
      moreBtn.disabled = false;
    }
  });

  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    pauseBtn.setAttribute('aria-pressed', String(paused));
    pauseBtn.textContent = paused ? t('alerts.resume') : t('alerts.pause');
    if (!paused) refresh();
  });

  // ------------------------------------------------------------ bulk
  async function bulk(action, body) {
    const ids = [...selected];
    if (!ids.length) return;
    for (const b of bulkBtns) b.disabled = true;
    try {
      const { done } = await runAction(ids, action, body);
      for (const id of done) {
        selected.delete(id);
        const e = rows.get(id);
        if (e) {
          e.checkbox.checked = false;
          e.row.classList.remove('is-selected');
        }
      }
    } finally {
      await refresh();
      syncSelection();
    }
  }
  ackBtn.addEventListener('click', () => bulk('acknowledge'));
  assignBtn.addEventListener('click', async () => {
    const body = await askAssignee(ctx);
    if (body) bulk('assign', body);
  });
  closeBtn.addEventListener('click', async () => {
    const body = await askClose(selected.size);
    if (body) bulk('close', body);
  });

  const onVisible = () => { if (!document.hidden && !paused) refresh(); };
  document.addEventListener('visibilitychange', onVisible);

  renderRuleChip();
  syncSelection();
  reload();

  return {
    update(params) {
      const next = readFilters(params);
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
      filters = next;
      statusSel.value = filters.status;
      levelSel.value = filters.level;
      kindSel.value = filters.kind;
      originSel.value = filters.origin;
      rangeSel.value = filters.range;
      textIn.value = filters.q;
      renderRuleChip();
      reload();
    },
    unmount() {
      alive = false;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}

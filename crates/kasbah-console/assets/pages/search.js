// pages/search.js — Event search (#/search?q=...&from=...&to=...&all=1): the query bar with time
// range and syntax help, an "All tenants" switch for global administrators, errors with a caret
// at the reported column, a histogram of the filter's matches (drag to zoom), results as
// expandable events (click a value to filter) or as the table a pipe produced, a field sidebar
// with top values, CSV/JSON export and "load more" paging.

import { t, tn } from '../i18n.js';
import { api, ApiError, isAbort } from '../api.js';
import { h, replace, append, fmtNumber, flatten, valueText, timeEl, toCsv, download, stamp, toLocalInput, fromLocalInput, parseTime } from '../util.js';
import { loading, empty, errorState, toast } from '../ui.js';
import { timeChart, palette } from '../charts.js';
import { splitQuery, clause, addClause, drillDown, fetchSeries } from '../query.js';
import { eventsTable } from '../events.js';

const RANGES = { '15m': '-15m', '1h': '-1h', '24h': '-24h', '7d': '-7d', '30d': '-30d', all: '' };
const PAGE = 100;
const DEFAULT = { q: '*', from: '-24h', to: null };
const OPEN_FIELDS = ['kasbah.tenant_name', 'host.name', 'user.name', 'event.action', 'event.dataset', 'event.outcome', 'source.ip', 'process.name'];

function stateFromParams(params) {
  return { q: params.get('q') ?? '', from: params.get('from') || null, to: params.get('to') || null, all: params.get('all') === '1' };
}

function paramsOf(st) {
  const p = new URLSearchParams();
  p.set('q', st.q);
  if (st.from) p.set('from', st.from);
  if (st.to) p.set('to', st.to);
  if (st.all) p.set('all', '1');
  return p;
}

function sameState(a, b) {
  return a && b && a.q === b.q && (a.from || null) === (b.from || null) && (a.to || null) === (b.to || null)
    && Boolean(a.all) === Boolean(b.all);
}

/** The `tenants` of a search request: every tenant when the switch is on, else the session's. */
function tenantsOf(st) {
  return st.all ? '*' : undefined;
}

/** The body of `POST /api/v1/search` for a page of `st`'s results. */
function searchBody(st, offset) {
  return { query: st.q, from: st.from || undefined, to: st.to || undefined, limit: PAGE, offset, tenants: tenantsOf(st) };
}

/** Field → {present, values: Map(text → {value, count})} over a page of events. */
function fieldStats(events) {
  const stats = new Map();
  for (const ev of events) {
    const flat = flatten(ev);
    for (const [k, v] of Object.entries(flat)) {
      if (k === 'kasbah.tenant') continue;
      let s = stats.get(k);
      if (!s) {
        s = { present: 0, values: new Map() };
        stats.set(k, s);
      }
      s.present += 1;
      const list = Array.isArray(v) ? v : [v];
      for (const x of list) {
        if (x !== null && typeof x === 'object') continue;
        const key = `${typeof x}:${String(x)}`;
        const e = s.values.get(key);
        if (e) e.count += 1;
        else if (s.values.size < 1000) s.values.set(key, { value: x, count: 1 });
      }
    }
  }
  return stats;
}

export function mount(root, ctx) {
  let current = null;
  let events = [];
  let tableRes = null;
  let total = 0;
  let runCtl = null;
  let histChart = null;
  let tcChart = null;
  let evTable = null;
  let alive = true;

  // ------------------------------------------------------------ elements
  const input = h('input', {
    id: 'search-query', type: 'search', class: 'input input-query', autocomplete: 'off', spellcheck: 'false',
    'aria-label': t('search.query_label'), placeholder: t('search.placeholder'), 'aria-describedby': 'search-error',
  });
  const range = h('select', { id: 'search-range', class: 'select', 'aria-label': t('search.range_label') },
    [...Object.keys(RANGES), 'custom'].map((k) => h('option', { value: k, text: t(`range.${k}`) })));
  const fromInput = h('input', { id: 'search-from', type: 'datetime-local', class: 'input', 'aria-label': t('search.from') });
  const toInput = h('input', { id: 'search-to', type: 'datetime-local', class: 'input', 'aria-label': t('search.to') });
  const custom = h('span', { class: 'custom-range', hidden: true },
    h('label', { class: 'inline-field' }, h('span', { text: t('search.from') }), fromInput),
    h('label', { class: 'inline-field' }, h('span', { text: t('search.to') }), toInput));
  const runBtn = h('button', { id: 'search-run', type: 'submit', class: 'btn btn-primary', text: t('search.run') });
  // Cross-tenant search is a global administrator's right; others never see the switch (and the
  // server refuses `tenants` to them anyway).
  const global = Boolean(ctx.session && ctx.session.global_admin);
  const allBox = h('input', { id: 'search-all-tenants', type: 'checkbox' });
  const allLabel = h('label', { class: 'inline-field checkbox', title: t('search.all_tenants_title'), hidden: !global },
    allBox, h('span', { text: t('search.all_tenants') }));
  const helpBtn = h('button', { id: 'search-help', type: 'button', class: 'btn', 'aria-expanded': 'false', 'aria-controls': 'search-help-panel', text: t('search.help') });
  const helpPanel = h('div', { id: 'search-help-panel', class: 'help-panel', hidden: true });
  const errBox = h('div', { id: 'search-error', class: 'query-error', role: 'alert', hidden: true });
  const totalEl = h('p', { id: 'search-total', class: 'search-total', 'aria-live': 'polite' });
  const csvBtn = h('button', { id: 'export-csv', type: 'button', class: 'btn btn-small', disabled: true, text: t('search.export_csv') });
  const jsonBtn = h('button', { id: 'export-json', type: 'button', class: 'btn btn-small', disabled: true, text: t('search.export_json') });
  const histBox = h('div', { id: 'search-histogram', class: 'chart-box histogram' });
  const histNote = h('p', { class: 'muted small histogram-note', hidden: true, text: t('search.histogram_hint') });
  const fieldFilter = h('input', { id: 'field-filter', type: 'search', class: 'input input-small', placeholder: t('search.fields_filter'), 'aria-label': t('search.fields_filter') });
  const fieldList = h('div', { class: 'field-list' });
  const sidebar = h('aside', { id: 'field-sidebar', class: 'field-sidebar', 'aria-label': t('search.fields') },
    h('h2', { class: 'subhead', text: t('search.fields') }), fieldFilter, fieldList);
  const results = h('div', { id: 'search-results', class: 'search-results' });
  const layout = h('div', { class: 'search-layout' });
  const moreBtn = h('button', { id: 'search-more', type: 'button', class: 'btn', hidden: true, text: t('search.more') });

  const form = h('form', { class: 'searchbar', role: 'search', id: 'search-form' },
    input, range, custom, allLabel, runBtn, helpBtn);

  replace(root, h('section', { id: 'page-search', class: 'page page-wide', 'aria-labelledby': 'search-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'search-title', text: t('search.title') })),
    form,
    errBox,
    helpPanel,
    h('div', { class: 'search-status' }, totalEl, h('div', { class: 'toolbar' }, csvBtn, jsonBtn)),
    histBox,
    histNote,
    append(layout, [sidebar, h('div', { class: 'search-main' }, results, moreBtn)])));

  function showSidebar(show) {
    sidebar.hidden = !show;
    layout.classList.toggle('no-sidebar', !show);
  }

  // ------------------------------------------------------------ help
  function renderHelp() {
    const rows = (key) => (t(key) || []).map(([syntax, desc]) => h('tr', {}, h('th', { scope: 'row' }, h('code', { text: syntax })), h('td', { text: desc })));
    replace(helpPanel,
      h('div', { class: 'help-grid' },
        h('div', {}, h('h2', { class: 'subhead', text: t('search.help_filters') }),
          h('table', { class: 'table compact help-table' }, h('tbody', {}, rows('search.help.filters')))),
        h('div', {}, h('h2', { class: 'subhead', text: t('search.help_pipes') }),
          h('table', { class: 'table compact help-table' }, h('tbody', {}, rows('search.help.pipes'))),
          h('p', { class: 'muted small', text: t('search.help.tips') }))));
  }
  helpBtn.addEventListener('click', () => {
    const open = helpPanel.hidden;
    if (open && !helpPanel.firstChild) renderHelp();
    helpPanel.hidden = !open;
    helpBtn.setAttribute('aria-expanded', String(open));
  });

  // ------------------------------------------------------------ form state
  function applyToForm(st) {
    input.value = st.q;
    allBox.checked = global && Boolean(st.all);
    let key = 'custom';
    if (!st.from && !st.to) key = 'all';
    else if (!st.to) key = Object.keys(RANGES).find((k) => RANGES[k] && RANGES[k] === st.from) || 'custom';
    range.value = key;
    custom.hidden = key !== 'custom';
    if (key === 'custom') {
      fromInput.value = toLocalInput(parseTime(st.from) || relDate(st.from));
      toInput.value = st.to ? toLocalInput(parseTime(st.to) || relDate(st.to)) : '';
    }
  }

  function relDate(spec) {
    const m = /^(?:now)?-(\d+)([smhdw])$/.exec(String(spec || ''));
    if (!m) return null;
    return new Date(Date.now() - Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]] * 1000);
  }

  function formState() {
    const q = input.value.trim() || '*';
    const all = global && allBox.checked;
    const period = range.value === 'custom'
      ? { from: fromLocalInput(fromInput.value), to: fromLocalInput(toInput.value) }
      : { from: RANGES[range.value] || null, to: null };
    return { q, ...period, all };
  }

  function submit(st) {
    // pushState fires no hashchange: the search runs here; back/forward come through update().
    const hash = `#/search?${paramsOf(st)}`;
    if (location.hash !== hash) history.pushState(null, '', hash);
    run(st);
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(formState());
  });
  range.addEventListener('change', () => {
    custom.hidden = range.value !== 'custom';
    if (range.value === 'custom') {
      if (!fromInput.value) fromInput.value = toLocalInput(new Date(Date.now() - 86400000));
      fromInput.focus();
      return;
    }
    submit(formState());
  });
  allBox.addEventListener('change', () => submit(formState()));
  input.addEventListener('input', () => {
    if (input.getAttribute('aria-invalid')) {
      input.removeAttribute('aria-invalid');
    }
  });

  // ------------------------------------------------------------ errors
  function showQueryError(e, q) {
    replace(errBox);
    errBox.appendChild(h('p', { class: 'query-error-msg' }, e.message, h('code', { class: 'err-code', text: e.code })));
    if (e.column && e.column > 0) {
      const chars = Array.from(q);
      const col = Math.min(e.column, chars.length + 1);
      errBox.appendChild(h('pre', { class: 'caret-line', 'aria-hidden': 'true' },
        h('span', { class: 'caret-query', text: q }), '\n', h('span', { class: 'caret', text: `${' '.repeat(col - 1)}^` })));
      const idx = chars.slice(0, col - 1).join('').length;
      input.focus();
      try { input.setSelectionRange(idx, idx); } catch (_) { /* type=search may refuse */ }
    }
    errBox.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  function clearError() {
    errBox.hidden = true;
    replace(errBox);
    input.removeAttribute('aria-invalid');
  }

  // ------------------------------------------------------------ filtering
  function filterBy(field, value, negate) {
    const q = addClause(current ? current.q : input.value, clause(field, value, negate));
    submit({ ...(current || formState()), q });
  }

  // ------------------------------------------------------------ sidebar
  function renderSidebar() {
    const stats = fieldStats(events);
    const n = events.length;
    const needle = fieldFilter.value.trim().toLowerCase();
    const fields = [...stats.entries()]
      .filter(([k]) => !needle || k.toLowerCase().includes(needle))
      .sort((a, b) => {
        const pa = OPEN_FIELDS.indexOf(a[0]);
        const pb = OPEN_FIELDS.indexOf(b[0]);
        if (pa !== pb) return (pa < 0 ? 99 : pa) - (pb < 0 ? 99 : pb);
        return b[1].present - a[1].present || a[0].localeCompare(b[0]);
      });
    if (!fields.length) {
      replace(fieldList, h('p', { class: 'muted small', text: n ? t('search.fields_none_match') : t('search.fields_empty') }));
      return;
    }
    replace(fieldList, fields.map(([name, s]) => {
      const top = [...s.values.values()].sort((a, b) => b.count - a.count).slice(0, 5);
      return h('details', { class: 'field-group', open: OPEN_FIELDS.includes(name) },
        h('summary', {}, h('span', { class: 'field-name', text: name }), h('span', { class: 'field-count', title: t('search.field_present', { n: s.present, total: n }), text: fmtNumber(s.present) })),
        h('ol', { class: 'field-values' }, top.map((v) => h('li', {},
          h('button', {
            type: 'button', class: 'field-value', title: t('event.filter_title', { field: name, value: valueText(v.value) }),
            onclick: () => filterBy(name, v.value, false),
          }, h('span', { class: 'fv-text', text: valueText(v.value) }), h('span', { class: 'fv-count', text: fmtNumber(v.count) })),
          h('button', {
            type: 'button', class: 'field-exclude', text: t('event.not'),
            'aria-label': t('event.exclude_title', { field: name, value: valueText(v.value) }),
            title: t('event.exclude_title', { field: name, value: valueText(v.value) }),
            onclick: () => filterBy(name, v.value, true),
          })))));
    }));
  }
  fieldFilter.addEventListener('input', renderSidebar);

  // ------------------------------------------------------------ histogram
  async function loadHistogram(st, signal) {
    if (histChart) { histChart.destroy(); histChart = null; }
    replace(histBox, loading(t('search.histogram_loading')));
    histBox.hidden = false;
    histNote.hidden = true;
    try {
      const { filter } = splitQuery(st.q);
      const s = await fetchSeries({ filter, from: st.from, to: st.to, signal, tenants: tenantsOf(st) });
      if (!alive || signal.aborted) return;
      if (!s.times.length || s.empty) {
        histBox.hidden = true;
        return;
      }
      histBox.replaceChildren();
      histChart = timeChart(histBox, {
        kind: 'bars',
        times: s.times,
        spanSec: s.spanSec,
        xRange: s.range,
        height: 120,
        label: t('search.histogram_label', { span: s.span }),
        series: [{ label: t('search.histogram_series', { span: s.span }), values: s.counts, color: palette(0) }],
        valueFormat: (v) => fmtNumber(v),
        onSelect: (a, b) => {
          submit({ q: current.q, from: new Date(Math.floor(a) * 1000).toISOString(), to: new Date(Math.ceil(b) * 1000).toISOString() });
        },
      });
      histNote.hidden = false;
    } catch (e) {
      if (!isAbort(e)) histBox.hidden = true;
    }
  }

  // ------------------------------------------------------------ results
  function totalText(res) {
    return tn('search.total', res.total, { ms: fmtNumber(res.took_ms, { maximumFractionDigits: 1 }) });
  }

  function allTimeHint() {
    if (!current || (!current.from && !current.to)) return null;
    return h('button', {
      type: 'button', class: 'btn', id: 'search-all-time', text: t('search.all_time'),
      onclick: () => submit({ q: current.q, from: null, to: null }),
    });
  }

  function renderEvents(res) {
    events = res.events || [];
    total = res.total;
    if (!events.length) {
      replace(results, empty(current && (current.from || current.to) ? t('search.no_events_period') : t('search.no_events'), allTimeHint()));
      showSidebar(true);
      renderSidebar();
      return;
    }
    evTable = eventsTable({ events, onFilter: filterBy, caption: t('search.results_caption'), id: 'search-events' });
    replace(results, evTable.el);
    renderSidebar();
    showSidebar(true);
    updateMore();
  }

  function updateMore() {
    const more = tableRes === null && events.length < total && events.length > 0;
    moreBtn.hidden = !more;
    if (more) moreBtn.textContent = t('search.more_count', { shown: fmtNumber(events.length), total: fmtNumber(total) });
  }

  function timechartChart(res) {
    const cols = res.columns;
    const rows = res.rows || [];
    if (cols[0] !== '_time' || !rows.length) return null;
    const hasBy = cols.length >= 3 && rows.some((r) => typeof r[1] === 'string' || r[1] === null);
    const timesSet = [...new Set(rows.map((r) => r[0]))].sort();
    const times = timesSet.map((x) => (parseTime(x) || new Date(0)).getTime() / 1000);
    const index = new Map(timesSet.map((x, i) => [x, i]));
    const series = [];
    if (hasBy) {
      const byVals = new Map();
      for (const r of rows) {
        const k = r[1] === null ? t('search.null') : String(r[1]);
        if (!byVals.has(k)) {
          if (byVals.size >= 10) continue;
          byVals.set(k, times.map(() => 0));
        }
        byVals.get(k)[index.get(r[0])] = Number(r[2]);
      }
      let i = 0;
      for (const [k, values] of byVals) series.push({ label: k, values, color: palette(i++) });
    } else {
      cols.slice(1).forEach((c, ci) => {
        if (!rows.some((r) => typeof r[ci + 1] === 'number')) return;
        const values = times.map(() => null);
        for (const r of rows) values[index.get(r[0])] = typeof r[ci + 1] === 'number' ? r[ci + 1] : null;
        series.push({ label: c, values, color: palette(ci) });
      });
    }
    if (!series.length) return null;
    const box = h('div', { class: 'chart-box', id: 'search-timechart' });
    const spans = times.length > 1 ? times[1] - times[0] : 60;
    // Mounted after insertion, once the box has a width.
    requestAnimationFrame(() => {
      if (!alive || !box.isConnected) return;
      tcChart = timeChart(box, { kind: 'line', times, spanSec: spans, series, height: 220, label: t('search.timechart_label') });
    });
    return box;
  }

  function renderTable(res) {
    tableRes = res;
    events = [];
    showSidebar(false);
    const cols = res.columns || [];
    const rows = res.rows || [];
    if (!rows.length) {
      replace(results, empty(t('search.no_rows'), allTimeHint()));
      return;
    }
    const cell = (col, v) => {
      if (col === '_time') return timeEl(v);
      if (v === null || v === undefined) return h('span', { class: 'muted', text: t('search.null') });
      if (typeof v === 'number') return fmtNumber(v, { maximumFractionDigits: 6 });
      if (typeof v === 'string') {
        return h('button', {
          type: 'button', class: 'cell-drill', text: v, title: t('search.drill_title', { field: col, value: v }),
          onclick: () => submit({ ...current, q: drillDown(current.q, clause(col, v)) }),
        });
      }
      return valueText(v);
    };
    const tbl = h('table', { class: 'table results-table', id: 'search-table' },
      h('caption', { class: 'visually-hidden', text: t('search.table_caption') }),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: rows.some((r) => typeof r[cols.indexOf(c)] === 'number') ? 'num' : '', text: c })))),
      h('tbody', {}, rows.map((r) => h('tr', { class: 'table-row' }, cols.map((c, i) => h('td', { class: typeof r[i] === 'number' ? 'num' : '' }, cell(c, r[i])))))));
    replace(results,
      timechartChart(res),
      h('p', { class: 'muted small', text: tn('search.rows', rows.length) }),
      h('div', { class: 'table-scroll' }, tbl));
  }

  async function run(st) {
    current = { ...st };
    applyToForm(st);
    if (runCtl) runCtl.abort();
    runCtl = new AbortController();
    const signal = AbortSignal.any ? AbortSignal.any([ctx.signal, runCtl.signal]) : runCtl.signal;
    clearError();
    if (tcChart) { tcChart.destroy(); tcChart = null; }
    tableRes = null;
    events = [];
    evTable = null;
    moreBtn.hidden = true;
    csvBtn.disabled = true;
    jsonBtn.disabled = true;
    totalEl.textContent = t('search.searching');
    results.setAttribute('aria-busy', 'true');
    replace(results, loading(t('search.searching')));
    loadHistogram(st, signal);
    try {
      const res = await api.post('/api/v1/search', searchBody(st, 0), { signal });
      if (!alive || signal.aborted) return;
      totalEl.textContent = totalText(res);
      if (Array.isArray(res.columns)) renderTable(res);
      else renderEvents(res);
      const has = tableRes ? (tableRes.rows || []).length > 0 : events.length > 0;
      csvBtn.disabled = !has;
      jsonBtn.disabled = !has;
    } catch (e) {
      if (isAbort(e)) return;
      totalEl.textContent = '';
      if (e instanceof ApiError && e.code === 'invalid_query') {
        showQueryError(e, st.q);
        replace(results, empty(t('search.fix_query')));
      } else {
        replace(results, errorState(e, () => run(st)));
      }
      replace(fieldList);
    } finally {
      results.removeAttribute('aria-busy');
    }
  }

  moreBtn.addEventListener('click', async () => {
    if (!current) return;
    moreBtn.disabled = true;
    const st = current;
    try {
      const res = await api.post('/api/v1/search', searchBody(st, events.length), { signal: ctx.signal });
      if (!alive || current !== st) return;
      const more = res.events || [];
      events = events.concat(more);
      total = res.total;
      if (evTable) evTable.append(more);
      renderSidebar();
      updateMore();
      if (!more.length) moreBtn.hidden = true;
    } catch (e) {
      if (!isAbort(e)) toast(e.message || t('error.unexpected'), { kind: 'error', code: e.code });
    } finally {
      moreBtn.disabled = false;
    }
  });

  // ------------------------------------------------------------ export
  csvBtn.addEventListener('click', () => {
    if (tableRes) {
      download(`kasbah-search-${stamp()}.csv`, `\ufeff${toCsv(tableRes.columns, tableRes.rows || [])}`, 'text/csv;charset=utf-8');
      return;
    }
    const flats = events.map((e) => flatten(e));
    const keys = new Set();
    for (const f of flats) for (const k of Object.keys(f)) keys.add(k);
    const first = ['@timestamp', 'host.name', 'message'].filter((k) => keys.has(k));
    const cols = [...first, ...[...keys].filter((k) => !first.includes(k)).sort()];
    download(`kasbah-search-${stamp()}.csv`, `\ufeff${toCsv(cols, flats.map((f) => cols.map((c) => f[c])))}`, 'text/csv;charset=utf-8');
  });
  jsonBtn.addEventListener('click', () => {
    let data;
    if (tableRes) {
      data = (tableRes.rows || []).map((r) => Object.fromEntries(tableRes.columns.map((c, i) => [c, r[i]])));
    } else {
      data = events;
    }
    download(`kasbah-search-${stamp()}.json`, JSON.stringify(data, null, 2), 'application/json');
  });

  // ------------------------------------------------------------ start
  function start(params) {
    let st = stateFromParams(params);
    if (!st.q && !st.from && !st.to) {
      st = { ...DEFAULT };
      ctx.setParams(paramsOf(st));
    } else if (!st.q) {
      st.q = '*';
    }
    // A shared link with `all=1` searches the viewer's own tenant unless they may see all.
    st.all = global && st.all;
    run(st);
  }
  start(ctx.params);
  if (!ctx.params.get('q')) input.focus();

  return {
    update(params) {
      const st = stateFromParams(params);
      if (sameState(st, current)) return;
      start(params);
    },
    unmount() {
      alive = false;
      if (runCtl) runCtl.abort();
      if (histChart) histChart.destroy();
      if (tcChart) tcChart.destroy();
    },
  };
}

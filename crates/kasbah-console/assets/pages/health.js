// pages/health.js — Renders GET /api/v1/health as readable tables (per-input counters, store,
// detection, anomaly and server-wide counters), in full for administration and compact for the
// overview, and measures the live ingest rate from the deltas of successive samples.

import { t, has } from '../i18n.js';
import { h, fmtNumber, fmtBytes, fmtMs, valueText } from '../util.js';
import { table, kvTable } from '../ui.js';

const INPUT_COLS = ['events', 'bytes', 'parse_errors', 'rejected_overload', 'rejected_too_large'];

function label(prefix, key) {
  return has(`${prefix}.${key}`) ? t(`${prefix}.${key}`) : key;
}

function fmtValue(key, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (/bytes/.test(key)) return fmtBytes(v);
    if (/_ms$|^p\d+$/.test(key)) return fmtMs(v);
    return fmtNumber(v, { maximumFractionDigits: 2 });
  }
  return valueText(v);
}

/** Total events received over every input (for rate measurements). */
export function totalInputEvents(health) {
  let n = 0;
  for (const c of Object.values((health && health.inputs) || {})) n += Number(c && c.events) || 0;
  return n;
}

let lastSample = null;

/** Events per second since the previous sample of this tab (null until two samples exist). */
export function sampleRate(health) {
  const now = performance.now();
  const total = totalInputEvents(health);
  let rate = null;
  if (lastSample && now - lastSample.at > 500) {
    rate = Math.max(0, (total - lastSample.total) / ((now - lastSample.at) / 1000));
  }
  if (!lastSample || now - lastSample.at > 500) lastSample = { at: now, total, rate };
  return rate ?? (lastSample && lastSample.rate);
}

/** Problems worth a warning: parse errors, refusals, queued detection, failures. */
export function healthWarnings(health) {
  const w = [];
  if (!health) return w;
  let parse = 0;
  let refused = 0;
  for (const c of Object.values(health.inputs || {})) {
    parse += Number(c.parse_errors) || 0;
    refused += (Number(c.rejected_overload) || 0) + (Number(c.rejected_too_large) || 0);
  }
  if (parse) w.push(t('health.warn_parse', { n: fmtNumber(parse) }));
  if (refused) w.push(t('health.warn_refused', { n: fmtNumber(refused) }));
  if (health.udp_dropped) w.push(t('health.warn_udp', { n: fmtNumber(health.udp_dropped) }));
  const d = health.detection;
  if (d && d.queued_batches > 10) w.push(t('health.warn_queue', { n: fmtNumber(d.queued_batches) }));
  if (d && d.failed) w.push(t('health.warn_failed', { n: fmtNumber(d.failed) }));
  if (health.store && health.store.index_errors) w.push(t('health.warn_index', { n: fmtNumber(health.store.index_errors) }));
  if (health.store && health.store.held_events) w.push(t('health.warn_held', { n: fmtNumber(health.store.held_events) }));
  return w;
}

function inputsTable(health, id) {
  const inputs = health.inputs || {};
  return table({
    id,
    caption: t('health.inputs'),
    columns: [{ label: t('health.input') }, ...INPUT_COLS.map((c) => ({ label: label('health.col', c), class: 'num' }))],
    rows: Object.entries(inputs).map(([name, c]) => ({
      props: { class: (c.parse_errors || c.rejected_overload || c.rejected_too_large) ? 'row-warn' : (c.events ? '' : 'row-idle') },
      cells: [label('health.input_name', name), ...INPUT_COLS.map((k) => fmtValue(k, c[k]))],
    })),
  });
}

function section(title, node) {
  return h('div', { class: 'health-section' }, h('h3', { class: 'subhead', text: title }), node);
}

function formatted(obj, prefix) {
  const out = {};
  const labels = {};
  for (const [k, v] of Object.entries(obj || {})) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) continue;
    out[k] = fmtValue(k, v);
    labels[k] = label(prefix, k);
  }
  return { out, labels };
}

/** The full health report (administration). */
export function renderHealthFull(health) {
  const parts = [];
  const warnings = healthWarnings(health);
  parts.push(warnings.length
    ? h('ul', { class: 'health-warnings', 'aria-label': t('health.warnings') }, warnings.map((w) => h('li', { text: w })))
    : h('p', { class: 'health-ok', text: t('health.all_ok') }));
  parts.push(section(t('health.inputs'), inputsTable(health, 'health-inputs')));
  const misc = {};
  for (const [k, v] of Object.entries(health)) if (typeof v !== 'object' || v === null) misc[k] = v;
  const m = formatted(misc, 'health.key');
  parts.push(section(t('health.server'), kvTable(m.out, { labels: m.labels, caption: t('health.server') })));
  const s = formatted(health.store, 'health.key');
  parts.push(section(t('health.store'), kvTable(s.out, { labels: s.labels, caption: t('health.store') })));
  if (health.detection) {
    const d = formatted(health.detection, 'health.key');
    const lat = health.detection.latency_ms || {};
    d.out.latency_p50 = fmtMs(lat.p50);
    d.out.latency_p99 = fmtMs(lat.p99);
    d.out.latency_samples = fmtNumber(lat.samples);
    d.labels.latency_p50 = t('health.latency_p50');
    d.labels.latency_p99 = t('health.latency_p99');
    d.labels.latency_samples = t('health.latency_samples');
    parts.push(section(t('health.detection'), kvTable(d.out, { labels: d.labels, caption: t('health.detection') })));
  } else {
    parts.push(section(t('health.detection'), h('p', { class: 'muted', text: t('health.detection_off') })));
  }
  for (const [k, v] of Object.entries(health)) {
    if (['inputs', 'store', 'detection'].includes(k) || v === null || typeof v !== 'object') continue;
    const o = formatted(v, 'health.key');
    parts.push(section(label('health.section', k), kvTable(o.out, { labels: o.labels, caption: k })));
  }
  return h('div', { class: 'health-full' }, parts);
}

/** The compact report (overview): inputs that received anything, store and detection lines. */
export function renderHealthCompact(health, rate) {
  const warnings = healthWarnings(health);
  const store = health.store || {};
  const d = health.detection;
  const facts = [
    [t('health.rate_now'), rate === null || rate === undefined ? t('health.measuring') : t('unit.eps', { n: fmtNumber(rate, { maximumFractionDigits: 1 }) })],
    [label('health.key', 'inflight_bytes'), fmtBytes(store.inflight_bytes)],
    [label('health.key', 'wal_bytes'), fmtBytes(store.wal_bytes)],
    [label('health.key', 'committed_events'), fmtNumber(store.committed_events)],
    [label('health.key', 'queued_batches'), d ? fmtNumber(d.queued_batches) : t('health.detection_off')],
    [t('health.latency'), d && d.latency_ms ? t('health.latency_pair', { p50: fmtMs(d.latency_ms.p50), p99: fmtMs(d.latency_ms.p99) }) : '—'],
    [t('health.parse_errors_total'), fmtNumber(Object.values(health.inputs || {}).reduce((a, c) => a + (Number(c.parse_errors) || 0), 0))],
  ];
  const active = Object.entries(health.inputs || {}).filter(([, c]) => c.events || c.parse_errors || c.rejected_overload || c.rejected_too_large);
  return h('div', { class: 'health-compact' },
    warnings.length
      ? h('ul', { class: 'health-warnings' }, warnings.map((w) => h('li', { text: w })))
      : h('p', { class: 'health-ok', text: t('health.all_ok') }),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', { text: v })))),
    active.length
      ? table({
        caption: t('health.inputs'),
        columns: [{ label: t('health.input') }, { label: label('health.col', 'events'), class: 'num' }, { label: label('health.col', 'parse_errors'), class: 'num' }],
        rows: active.map(([name, c]) => [label('health.input_name', name), fmtNumber(c.events), fmtNumber(c.parse_errors)]),
        className: 'table compact',
      })
      : h('p', { class: 'muted small', text: t('health.no_input_yet') }));
}

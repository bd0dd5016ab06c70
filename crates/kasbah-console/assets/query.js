// query.js — Helpers for the search language (docs/search.md) on the browser side: splitting a
// query into its filter and pipes, quoting values for click-to-filter, adding clauses without
// changing the meaning of an OR, choosing a timechart span for a time range, and fetching a
// count-per-bucket time series (refined for "all time", where the range is not known up front).

import { api } from './api.js';
import { parseTime, relativeSeconds } from './util.js';

/** `{filter, pipes}`: the text before the first `|` that is not quoted or escaped, and after. */
export function splitQuery(q) {
  const s = String(q || '');
  let inQuote = false;
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i];
    if (c === '\\') { i += 1; continue; }
    if (c === '"') inQuote = !inQuote;
    else if (c === '|' && !inQuote) return { filter: s.slice(0, i).trim(), pipes: s.slice(i + 1).trim() };
  }
  return { filter: s.trim(), pipes: '' };
}

/** A field name written so the parser reads it whole. */
export function fieldName(name) {
  return String(name).replace(/[^\w.@\-]/g, (c) => `\\${c}`).replace(/^-/, '\\-');
}

/** A value written for `field:value`: numbers and booleans bare, text quoted. */
export function quoteValue(v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `field:"value"`, `NOT field:"value"`; a null value tests presence. */
export function clause(field, value, negate = false) {
  const f = fieldName(field);
  if (value === null || value === undefined) return negate ? `${f}:*` : `NOT ${f}:*`;
  return `${negate ? 'NOT ' : ''}${f}:${quoteValue(value)}`;
}

function hasTopLevelOr(filter) {
  let inQuote = false;
  let word = '';
  for (let i = 0; i <= filter.length; i += 1) {
    const c = filter[i];
    if (c === '\\') { i += 1; word += 'x'; continue; }
    if (c === '"') { inQuote = !inQuote; word = ''; continue; }
    if (inQuote) continue;
    if (c === undefined || /[\s()]/.test(c)) {
      if (word.toUpperCase() === 'OR') return true;
      word = '';
    } else {
      word += c;
    }
  }
  return false;
}

/** The query with `extra` AND-ed to its filter (pipes kept). */
export function addClause(query, extra) {
  const { filter, pipes } = splitQuery(query);
  let f = filter;
  if (!f || f === '*') f = extra;
  else if (` ${f} `.includes(` ${extra} `)) f = filter;
  else if (hasTopLevelOr(f)) f = `(${f}) ${extra}`;
  else f = `${f} ${extra}`;
  return pipes ? `${f} | ${pipes}` : f;
}

/** The filter of `query` AND-ed with `extra`, pipes dropped (a drill-down from a table). */
export function drillDown(query, extra) {
  return addClause(splitQuery(query).filter, extra);
}

const SPANS = [
  ['1s', 1], ['2s', 2], ['5s', 5], ['10s', 10], ['15s', 15], ['30s', 30],
  ['1m', 60], ['2m', 120], ['5m', 300], ['10m', 600], ['15m', 900], ['30m', 1800],
  ['1h', 3600], ['2h', 7200], ['3h', 10800], ['6h', 21600], ['12h', 43200],
  ['1d', 86400], ['2d', 172800], ['1w', 604800], ['2w', 1209600], ['4w', 2419200], ['12w', 7257600], ['52w', 31449600],
];

/** The smallest round span giving at most `max` buckets over `seconds`: `[text, seconds]`. */
export function chooseSpan(seconds, max = 100) {
  for (const s of SPANS) if (seconds / s[1] <= max) return s;
  return SPANS[SPANS.length - 1];
}

/** Seconds between `from` and `to` (relative specs, RFC 3339 or dates); null when unbounded. */
export function rangeSeconds(from, to) {
  if (!from) return null;
  const rel = relativeSeconds(from);
  const end = to && to !== 'now' ? (parseTime(to) || new Date()) : new Date();
  if (rel !== null) return to && to !== 'now' ? Math.max(1, (end.getTime() - (Date.now() - rel * 1000)) / 1000) : rel;
  const start = parseTime(from);
  if (!start) return null;
  return Math.max(1, (end.getTime() - start.getTime()) / 1000);
}

async function timechart(filter, span, from, to, signal, tenants) {
  const q = `${filter && filter.trim() ? filter : '*'} | timechart span=${span} count()`;
  const res = await api.post('/api/v1/search', { query: q, from: from || undefined, to: to || undefined, limit: 10000, tenants }, { signal });
  const cols = res.columns || [];
  const ti = cols.indexOf('_time');
  const ci = cols.indexOf('count');
  const times = [];
  const counts = [];
  for (const r of res.rows || []) {
    const d = parseTime(r[ti]);
    if (!d) continue;
    times.push(d.getTime() / 1000);
    counts.push(Number(r[ci]) || 0);
  }
  return { times, counts, total: Number(res.total) || 0 };
}

/**
 * Events per bucket for `filter` over [from, to): `{times (s), counts, span, spanSec}`. Without
 * `from` (all time), starts with 1-day buckets and narrows the span to the data's own range.
 * `tenants` (`'*'` or names) searches across tenants, for global administrators.
 */
export async function fetchSeries({ filter, from, to, signal, max = 100, tenants }) {
  const secs = rangeSeconds(from, to);
  if (secs !== null) {
    const [span, spanSec] = chooseSpan(secs, max);
    const end = to && to !== 'now' ? (parseTime(to) || new Date()) : new Date();
    const endSec = end.getTime() / 1000;
    // The whole requested period is shown, even where it holds no events: the buckets the
    // timechart leaves out (before the first and after the last event) count 0.
    const data = await timechart(filter, span, from, to, signal, tenants);
    const byTime = new Map(data.times.map((x, i) => [x, data.counts[i]]));
    const times = [];
    const counts = [];
    for (let b = Math.floor((endSec - secs) / spanSec) * spanSec; b <= endSec; b += spanSec) {
      times.push(b);
      counts.push(byTime.get(b) || 0);
      byTime.delete(b);
    }
    for (const [x, c] of byTime) { times.push(x); counts.push(c); }
    const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b]);
    return {
      times: order.map((i) => times[i]),
      counts: order.map((i) => counts[i]),
      total: data.total,
      span,
      spanSec,
      range: [endSec - secs, endSec],
      empty: data.times.length === 0,
    };
  }
  let span = '1d';
  let spanSec = 86400;
  let data = await timechart(filter, span, from, to, signal, tenants);
  for (let pass = 0; pass < 2 && data.times.length; pass += 1) {
    const first = data.times[0];
    const last = data.times[data.times.length - 1] + spanSec;
    const [ns, nsSec] = chooseSpan(last - first, max);
    if (ns === span) break;
    const f = new Date(first * 1000).toISOString();
    const tt = new Date(last * 1000).toISOString();
    const next = await timechart(filter, ns, f, tt, signal, tenants);
    if (!next.times.length) break;
    span = ns;
    spanSec = nsSec;
    data = next;
  }
  if (data.times.length === 1) {
    // One bucket alone gives the chart no extent: its time axis would be padded by years.
    // Empty neighbours show the bucket in its own span.
    const [x] = data.times;
    data = { ...data, times: [x - spanSec, x, x + spanSec], counts: [0, data.counts[0], 0] };
  }
  return { ...data, span, spanSec };
}

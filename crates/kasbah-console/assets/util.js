// util.js — Small helpers shared by every page: building DOM nodes safely (text is always set
// with textContent, never parsed as HTML), escaping, time/number/byte formatting in the browser's
// locale, flattening events into dotted keys, CSV/JSON export and file downloads.

import { t, locale } from './i18n.js';

/** Escapes text for the rare places where HTML source is built (prefer `h()`). */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// Keys set as DOM properties; everything else becomes an attribute.
const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate', 'readOnly', 'required', 'multiple', 'open', 'tabIndex']);

/**
 * Creates an element. `props`: `class`, `text` (textContent), `dataset`, `style` (object, set
 * through CSSOM, allowed by the CSP), `on<event>` handlers, DOM properties, other attributes.
 * Children: nodes, strings (as text), arrays, null/false (skipped). HTML is never parsed.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style') for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, sv);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, nested arrays; null/false/undefined skipped). */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// ---------------------------------------------------------------- numbers and sizes

export function fmtNumber(n, opts) {
  if (n === null || n === undefined || n === '' || Number.isNaN(Number(n))) return '—';
  return new Intl.NumberFormat(locale(), opts).format(Number(n));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = t('unit.bytes');
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return t('unit.size', { n: fmtNumber(v, { maximumFractionDigits: i ? 1 : 0 }), unit: units[i] });
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  const v = Number(ms);
  if (v < 10) return t('unit.ms', { n: fmtNumber(v, { maximumFractionDigits: 2 }) });
  if (v < 1000) return t('unit.ms', { n: fmtNumber(v, { maximumFractionDigits: 1 }) });
  return t('unit.s', { n: fmtNumber(v / 1000, { maximumFractionDigits: 2 }) });
}

// ---------------------------------------------------------------- times

/**
 * A Date from an API time: RFC 3339 text, or a number in s, ms, µs or ns (guessed from its size).
 * Null when it is not a time.
 */
export function parseTime(v) {
  if (v === null || v === undefined || v === '') return null;
  let d;
  if (typeof v === 'number') {
    const a = Math.abs(v);
    if (a > 1e17) d = new Date(v / 1e6);
    else if (a > 1e14) d = new Date(v / 1e3);
    else if (a > 1e11) d = new Date(v);
    else d = new Date(v * 1000);
  } else {
    d = new Date(String(v));
  }
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Local time as `YYYY-MM-DD HH:MM:SS` (with milliseconds when not zero). */
export function fmtTime(v, { seconds = true, ms = true } = {}) {
  const d = v instanceof Date ? v : parseTime(v);
  if (!d) return v === null || v === undefined ? '—' : String(v);
  let s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (seconds) {
    s += `:${pad(d.getSeconds())}`;
    if (ms && d.getMilliseconds()) s += `.${pad(d.getMilliseconds(), 3)}`;
  }
  return s;
}

/** A <time> element: local time shown, the UTC value as tooltip and `datetime`. */
export function timeEl(v, opts) {
  const d = v instanceof Date ? v : parseTime(v);
  if (!d) return h('span', { class: 'muted', text: v === null || v === undefined ? '—' : String(v) });
  const iso = d.toISOString();
  return h('time', { datetime: iso, title: t('time.utc', { t: iso.replace('.000Z', 'Z') }) }, fmtTime(d, opts));
}

/** A Date to the value of an `<input type="datetime-local">` (local time). */
export function toLocalInput(d) {
  if (!d) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of a datetime-local input to RFC 3339 UTC, or null. */
export function fromLocalInput(s) {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Seconds in a relative time spec such as `-15m`, `now-24h`, `-7d`; null otherwise. */
export function relativeSeconds(spec) {
  const m = /^(?:now)?-(\d+)(s|m|h|d|w)$/.exec(String(spec || '').trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
}

// ---------------------------------------------------------------- events

/** Flattens nested objects into dotted keys; arrays stay arrays. */
export function flatten(obj, prefix = '', out = {}) {
  if (obj === null || typeof obj !== 'object') return out;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}

/** A value as display text (objects and arrays as compact JSON). */
export function valueText(v) {
  if (v === null) return 'null';
  if (v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// ---------------------------------------------------------------- export

function csvCell(v) {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Spreadsheet formula injection: event data (values and field names) is attacker-controlled.
  // Text that a spreadsheet could run as a formula gets a leading quote; plain words, numbers
  // and times such as `@timestamp`, `-5` or `+02:00` are left as they are.
  if (typeof v === 'string' && (/^[=\t\r]/.test(s) || (/^[+\-@]/.test(s) && !/^[+\-@][\w.:+\-]*$/.test(s)))) s = `'${s}`;
  if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** RFC 4180 CSV (CRLF line ends, quotes doubled). */
export function toCsv(columns, rows) {
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) lines.push(r.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves `text` as a file through a Blob and an object URL. */
export function download(filename, text, mime) {
  const blob = new Blob([text], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, class: 'visually-hidden' });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A file-name-safe local timestamp. */
export function stamp() {
  const d = new Date();
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/** Copies text to the clipboard; resolves true on success. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) { /* fall back below */ }
  const ta = h('textarea', { class: 'visually-hidden', readOnly: true });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
  ta.remove();
  return ok;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Runs async tasks with at most `n` at a time; resolves to their settled results in order. */
export async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next;
      next += 1;
      try {
        results[i] = { ok: true, value: await fn(items[i], i) };
      } catch (e) {
        results[i] = { ok: false, error: e };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

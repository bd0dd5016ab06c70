// events.js — Renders stored events (search results, an alert's matching events) as a table of
// expandable rows: time, host and a one-line summary; a row opens onto every field as a flattened
// key/value table whose values add `field:"value"` (or `NOT field:"value"`) to a query, and the
// raw JSON. Event data is attacker-controlled: everything is inserted as text.

import { t } from './i18n.js';
import { h, flatten, timeEl, valueText, copyText } from './util.js';
import { toast } from './ui.js';

const HOST_FIELDS = ['host.name', 'host.hostname', 'observer.name', 'log.syslog.hostname', 'Computer', 'agent.hostname', 'source.ip'];
const SUMMARY_FIELDS = ['event.action', 'event.outcome', 'user.name', 'source.ip', 'destination.ip', 'destination.port', 'process.command_line', 'process.name', 'url.original', 'dns.question.name', 'file.path', 'rule.name'];
const HIDDEN = new Set(['kasbah.tenant']);

export function eventTime(flat) {
  return flat['@timestamp'] ?? flat.timestamp ?? flat['event.created'] ?? null;
}

export function eventHost(flat) {
  for (const f of HOST_FIELDS) if (flat[f] !== undefined && flat[f] !== null && flat[f] !== '') return String(flat[f]);
  return '';
}

/** One line describing an event: its message, else its most telling fields. */
export function eventSummary(flat) {
  const msg = flat.message ?? flat['event.original'];
  if (msg !== undefined && msg !== null && msg !== '') return valueText(msg);
  const parts = [];
  for (const f of SUMMARY_FIELDS) {
    if (flat[f] !== undefined && flat[f] !== null && flat[f] !== '') parts.push(`${f}=${valueText(flat[f])}`);
  }
  if (!parts.length) {
    for (const [k, v] of Object.entries(flat)) {
      if (k === '@timestamp' || HIDDEN.has(k)) continue;
      parts.push(`${k}=${valueText(v)}`);
      if (parts.length >= 6) break;
    }
  }
  return parts.join('  ');
}

function orderedKeys(flat) {
  const keys = Object.keys(flat).filter((k) => !HIDDEN.has(k));
  const first = ['@timestamp', 'message'];
  return [...first.filter((k) => keys.includes(k)), ...keys.filter((k) => !first.includes(k)).sort((a, b) => a.localeCompare(b))];
}

function valueButtons(field, value, onFilter) {
  const text = valueText(value);
  if (!onFilter) return [h('span', { class: 'value-text', text })];
  return [
    h('button', {
      type: 'button', class: 'value-filter', title: t('event.filter_title', { field, value: text }),
      'aria-label': t('event.filter_title', { field, value: text }), text,
      onclick: (e) => { e.stopPropagation(); onFilter(field, value, false); },
    }),
    h('button', {
      type: 'button', class: 'value-exclude', title: t('event.exclude_title', { field, value: text }),
      'aria-label': t('event.exclude_title', { field, value: text }), text: t('event.not'),
      onclick: (e) => { e.stopPropagation(); onFilter(field, value, true); },
    }),
  ];
}

function detailContent(ev, flat, onFilter) {
  const rows = orderedKeys(flat).map((k) => {
    const v = flat[k];
    let cell;
    if (Array.isArray(v) && v.length && v.every((x) => x === null || typeof x !== 'object')) {
      cell = h('ul', { class: 'value-list' }, v.map((x) => h('li', {}, valueButtons(k, x, onFilter))));
    } else if (v !== null && typeof v === 'object') {
      cell = h('span', { class: 'value-text', text: valueText(v) });
    } else {
      cell = h('span', { class: 'value-cell' }, valueButtons(k, v, onFilter), k === '@timestamp' ? h('span', { class: 'muted value-local' }, ' ', timeEl(v)) : null);
    }
    return h('tr', {}, h('th', { scope: 'row', class: 'field-name', text: k }), h('td', {}, cell));
  });
  const json = JSON.stringify(ev, null, 2);
  return h('div', { class: 'event-detail-body' },
    h('table', { class: 'table kv event-fields' }, h('caption', { class: 'visually-hidden', text: t('event.fields_caption') }), h('tbody', {}, rows)),
    h('details', { class: 'raw-json' },
      h('summary', { text: t('event.raw_json') }),
      h('button', {
        type: 'button', class: 'btn btn-small', text: t('action.copy'),
        onclick: async () => {
          const ok = await copyText(json);
          toast(ok ? t('state.copied') : t('error.copy_failed'), { kind: ok ? 'success' : 'error' });
        },
      }),
      h('pre', { class: 'code', text: json })));
}

/**
 * An events table. `onFilter(field, value, negate)` makes field values clickable (null: plain
 * text). Returns `{el, append(events), count()}`.
 */
export function eventsTable({ events = [], onFilter = null, caption, id }) {
  const tbody = h('tbody', {});
  const el = h('table', { class: 'table events-table', id },
    h('caption', { class: 'visually-hidden', text: caption || t('event.table_caption') }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-toggle' }, h('span', { class: 'visually-hidden', text: t('event.col_expand') })),
      h('th', { scope: 'col', class: 'col-time', text: t('event.col_time') }),
      h('th', { scope: 'col', class: 'col-host', text: t('event.col_host') }),
      h('th', { scope: 'col', class: 'col-summary', text: t('event.col_summary') }))),
    tbody);
  let n = 0;

  function addRow(ev) {
    n += 1;
    const flat = flatten(ev);
    const toggle = h('button', { type: 'button', class: 'row-toggle', 'aria-expanded': 'false', 'aria-label': t('event.expand'), text: '▸' });
    const dataset = flat['event.dataset'] || flat['event.module'];
    const summary = eventSummary(flat);
    const row = h('tr', { class: 'event-row' },
      h('td', { class: 'col-toggle' }, toggle),
      h('td', { class: 'col-time' }, timeEl(eventTime(flat))),
      h('td', { class: 'col-host', text: eventHost(flat) }),
      h('td', { class: 'col-summary' }, dataset ? h('span', { class: 'tag', text: String(dataset) }) : null, h('span', { class: 'summary-text', text: summary })));
    let detail = null;
    const setOpen = (open) => {
      toggle.setAttribute('aria-expanded', String(open));
      toggle.setAttribute('aria-label', open ? t('event.collapse') : t('event.expand'));
      toggle.textContent = open ? '▾' : '▸';
      row.classList.toggle('is-open', open);
      if (open) {
        if (!detail) detail = h('tr', { class: 'event-detail' }, h('td', { colspan: '4' }, detailContent(ev, flat, onFilter)));
        row.after(detail);
      } else if (detail) {
        detail.remove();
      }
    };
    toggle.addEventListener('click', (e) => {
      e.stopPropagation();
      setOpen(toggle.getAttribute('aria-expanded') !== 'true');
    });
    row.addEventListener('click', (e) => {
      if (e.target.closest('a, button, input')) return;
      if (window.getSelection && String(window.getSelection()).length) return;
      setOpen(toggle.getAttribute('aria-expanded') !== 'true');
    });
    tbody.appendChild(row);
  }

  function appendEvents(list) {
    for (const ev of list) addRow(ev);
  }
  appendEvents(events);
  return { el, append: appendEvents, count: () => n };
}

// pages/upload.js — Upload evidence files (#/upload): EVTX, JSON lines, syslog and the other
// formats of the parser, chosen or dropped, sent one at a time to POST /api/v1/upload with a
// progress bar each. Every file's events are stored and go through detection like any input;
// the result per file (events stored, records skipped and why) links to its events
// (`log.file.path`) and to the alert queue.

import { t, tn } from '../i18n.js';
import { uploadFile, isAbort } from '../api.js';
import { h, replace, fmtNumber, fmtBytes } from '../util.js';
import { guard, table, toast } from '../ui.js';
import { clause } from '../query.js';

/** Formats of `kasbah formats` (crates/kasbah-parse), `auto` first. */
export const FORMATS = ['auto', 'evtx', 'jsonl', 'syslog', 'cef', 'leef', 'xml', 'zeek', 'eve', 'access', 'auth', 'auditd', 'kv'];

export function mount(root, ctx) {
  let alive = true;
  let queue = [];
  let busy = false;
  const input = h('input', { id: 'upload-files', type: 'file', multiple: true, class: 'visually-hidden' });
  const pick = h('label', { for: 'upload-files', class: 'btn', id: 'upload-pick', text: t('upload.pick') });
  const zone = h('div', { id: 'upload-zone', class: 'drop-zone', tabindex: '0', role: 'group', 'aria-label': t('upload.zone') },
    h('p', { text: t('upload.drop') }), pick, input);
  const format = h('select', { id: 'upload-format', class: 'select' },
    FORMATS.map((f) => h('option', { value: f, text: f === 'auto' ? t('upload.format_auto') : `${t(`format.${f}`)} (${f})` })));
  const start = guard(h('button', { type: 'button', id: 'upload-start', class: 'btn btn-primary', text: t('upload.start'), disabled: true }), ctx);
  const clear = h('button', { type: 'button', id: 'upload-clear', class: 'btn', text: t('upload.clear'), disabled: true });
  const list = h('div', { id: 'upload-list' });
  const summary = h('p', { id: 'upload-summary', class: 'muted', role: 'status' });
  if (!ctx.canWrite) zone.classList.add('is-readonly');

  replace(root, h('section', { id: 'page-upload', class: 'page', 'aria-labelledby': 'upload-title' },
    h('div', { class: 'page-head' },
      h('div', { class: 'title-block' }, h('h1', { id: 'upload-title', text: t('upload.title') }),
        h('p', { class: 'muted small', text: t('upload.hint') }))),
    zone,
    h('div', { class: 'toolbar upload-toolbar' },
      h('label', { class: 'inline-field' }, h('span', { class: 'field-label', text: t('upload.format') }), format),
      start, clear),
    summary, list));

  function add(files) {
    if (busy) return;
    for (const f of files) queue.push({ file: f, state: 'queued', sent: 0, result: null, error: null });
    paint();
  }
  input.addEventListener('change', () => {
    add(Array.from(input.files || []));
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('is-over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('is-over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('is-over');
    if (ctx.canWrite) add(Array.from((ev.dataTransfer && ev.dataTransfer.files) || []));
  });
  clear.addEventListener('click', () => {
    if (busy) return;
    queue = [];
    summary.textContent = '';
    paint();
  });
  start.addEventListener('click', run);

  function resultCell(item) {
    if (item.state === 'error') return h('span', { class: 'form-error', text: item.error });
    if (item.state !== 'done') return h('span', { class: 'muted', text: t(`upload.state_${item.state}`) });
    const r = item.result || {};
    const name = r.file || item.file.name;
    const searchHref = `#/search?${new URLSearchParams({ q: clause('log.file.path', name) })}`;
    return h('span', { class: 'upload-result' },
      t('upload.stored', { n: fmtNumber(r.accepted || 0), format: r.format || '—' }),
      r.rejected ? h('span', { class: 'badge muted', title: (r.errors || []).map((e) => e.message || '').join('\n'), text: tn('upload.skipped', r.rejected) }) : null,
      ' ', h('a', { class: 'pivot upload-search', href: searchHref, text: t('upload.search') }));
  }

  function paint() {
    start.disabled = busy || !ctx.canWrite || !queue.some((q) => q.state === 'queued');
    clear.disabled = busy || !queue.length;
    if (!queue.length) {
      replace(list, h('p', { class: 'muted', text: t('upload.empty') }));
      return;
    }
    replace(list, h('div', { class: 'table-scroll' }, table({
      id: 'upload-table',
      caption: t('upload.title'),
      columns: [{ label: t('upload.file') }, { label: t('upload.size'), class: 'num' }, { label: t('upload.progress') }, { label: t('upload.result') }],
      rows: queue.map((q) => ({
        props: { class: ['upload-row', `is-${q.state}`] },
        cells: [
          h('code', { text: q.file.name }),
          fmtBytes(q.file.size),
          h('progress', { max: String(q.file.size || 1), value: String(q.state === 'done' ? (q.file.size || 1) : q.sent), 'aria-label': t('upload.progress_of', { name: q.file.name }) }),
          resultCell(q),
        ],
      })),
    })));
  }

  async function run() {
    if (busy) return;
    busy = true;
    paint();
    let stored = 0;
    let failed = 0;
    for (const item of queue) {
      if (!alive || item.state !== 'queued') continue;
      item.state = 'sending';
      paint();
      try {
        item.result = await uploadFile('/api/v1/upload', { format: format.value, filename: item.file.name }, item.file, {
          signal: ctx.signal,
          onProgress: (sent) => {
            item.sent = sent;
            const bar = list.querySelectorAll('progress')[queue.indexOf(item)];
            if (bar) bar.value = sent;
            if (sent >= item.file.size && item.state === 'sending') {
              item.state = 'parsing';
              paint();
            }
          },
        });
        item.state = 'done';
        stored += item.result.accepted || 0;
      } catch (e) {
        if (isAbort(e) || !alive) return;
        item.state = 'error';
        item.error = e.message || String(e);
        failed += 1;
      }
      paint();
    }
    busy = false;
    paint();
    const done = queue.filter((q) => q.state === 'done').length;
    const said = tn('upload.summary', done, { events: fmtNumber(stored) });
    replace(summary, said, ' ',
      h('a', { href: '#/alerts', id: 'upload-alerts', text: t('upload.alerts') }));
    if (failed) toast(tn('upload.failed', failed), { kind: 'error' });
    else toast(said, { kind: 'success' });
  }

  paint();
  return { unmount() { alive = false; } };
}

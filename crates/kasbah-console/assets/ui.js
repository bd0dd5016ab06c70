// ui.js — Shared interface pieces: the #toast message area, modal dialogs (native <dialog>:
// focus trapped, Escape closes), loading/empty/error states, level and status badges, role
// guards for change buttons, and key/value and generic tables built from text nodes.

import { t, has } from './i18n.js';
import { h, valueText, timeEl } from './util.js';
import { ApiError, isAbort } from './api.js';

// ---------------------------------------------------------------- toast

/**
 * Shows a message in #toast (role="alert"). `kind`: error (stays until closed or 15 s), success
 * or info (6 s).
 */
export function toast(message, { kind = 'info', code, timeout } = {}) {
  const box = document.getElementById('toast');
  if (!box) return;
  // The same message already on screen is not repeated (several cards failing at once).
  const key = `${kind}|${code || ''}|${message}`;
  for (const el of box.children) if (el.dataset.key === key) return;
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': t('action.dismiss'), text: '×' });
  const item = h('div', { class: `toast-item toast-${kind}`, dataset: { key } },
    h('span', { class: 'toast-text' }, message, code ? h('code', { class: 'toast-code', text: code }) : null),
    close);
  close.addEventListener('click', () => item.remove());
  box.appendChild(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  const ms = timeout ?? (kind === 'error' ? 15000 : 6000);
  if (ms > 0) setTimeout(() => item.remove(), ms);
}

/** Shows an API error (message and code); aborted requests are ignored. */
export function toastError(e, prefix) {
  // Aborted requests are not errors; a lost session already shows the login form.
  if (isAbort(e) || (e instanceof ApiError && e.code === 'unauthorized')) return;
  if (e instanceof ApiError) {
    const msg = e.code === 'network' ? t('error.network') : e.message;
    toast(prefix ? `${prefix}: ${msg}` : msg, { kind: 'error', code: e.code });
  } else {
    console.error(e);
    toast(prefix ? `${prefix}: ${t('error.unexpected')}` : t('error.unexpected'), { kind: 'error' });
  }
}

/** The text of an error for inline display: "message (code)". */
export function errorText(e) {
  if (e instanceof ApiError) return e.code === 'network' ? t('error.network') : e.message;
  return t('error.unexpected');
}

// ---------------------------------------------------------------- dialogs

/**
 * A modal form dialog. `body`: nodes for the form's fields; `confirm`: the button text; resolves
 * to the form element when confirmed (read the fields from it), null when cancelled.
 * `validate(form)` may return an error text to keep the dialog open.
 */
export function formDialog({ id, title, body, confirm, confirmId, danger = false, validate }) {
  return new Promise((resolve) => {
    const titleId = `${id}-title`;
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', id: confirmId, class: danger ? 'btn btn-danger' : 'btn btn-primary', text: confirm });
    const cancel = h('button', { type: 'button', class: 'btn', text: t('action.cancel') });
    const form = h('form', { method: 'dialog', class: 'dialog-form' },
      h('h2', { id: titleId, class: 'dialog-title', text: title }),
      body,
      err,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    const dlg = h('dialog', { id, class: 'dialog', 'aria-labelledby': titleId }, form);
    let result = null;
    cancel.addEventListener('click', () => dlg.close());
    // A validation message stays only until the user changes what it was about.
    form.addEventListener('input', () => { err.hidden = true; });
    form.addEventListener('submit', (ev) => {
      if (validate) {
        const msg = validate(form);
        if (msg) {
          ev.preventDefault();
          err.textContent = msg;
          err.hidden = false;
          return;
        }
      }
      result = form;
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector('input:not([type=hidden]), select, textarea');
    if (first) first.focus();
  });
}

/** Asks for confirmation; resolves true or false. */
export async function confirmDialog({ title, message, confirm, danger = true }) {
  const form = await formDialog({
    id: 'confirm-dialog', title, confirmId: 'confirm-ok', danger,
    confirm: confirm || t('action.confirm'),
    body: h('p', { class: 'dialog-message', text: message }),
  });
  return form !== null;
}

/** Asks for one line of text; resolves to it (trimmed) or null when cancelled. */
export async function promptDialog({ id = 'prompt-dialog', inputId = 'prompt-input', confirmId = 'prompt-ok', title, label, value = '', confirm, extra }) {
  const input = h('input', { type: 'text', id: inputId, class: 'input', autocomplete: 'off', maxlength: '200' });
  input.value = value;
  const form = await formDialog({
    id, title, confirmId, confirm: confirm || t('action.ok'),
    body: [h('label', { class: 'field' }, h('span', { class: 'field-label', text: label }), input), extra || null],
  });
  return form ? input.value.trim() : null;
}

// ---------------------------------------------------------------- states

export function loading(text) {
  return h('div', { class: 'state state-loading', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), text || t('state.loading'));
}

export function empty(text, action) {
  return h('div', { class: 'state state-empty' }, h('p', { text }), action || null);
}

export function errorState(e, retry) {
  toastError(e);
  return h('div', { class: 'state state-error', role: 'alert' },
    h('p', {}, errorText(e), e instanceof ApiError ? h('code', { class: 'err-code', text: e.code }) : null),
    retry ? h('button', { type: 'button', class: 'btn', text: t('action.retry'), onclick: retry }) : null);
}

// ---------------------------------------------------------------- badges

export const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];

export function levelBadge(level) {
  const l = LEVELS.includes(level) ? level : 'informational';
  return h('span', { class: `badge level level-${l}`, text: has(`level.${level}`) ? t(`level.${level}`) : String(level ?? '—') });
}

export function statusBadge(status) {
  const s = ['open', 'acknowledged', 'closed'].includes(status) ? status : 'other';
  return h('span', { class: `badge status status-${s}`, text: has(`status.${status}`) ? t(`status.${status}`) : String(status ?? '—') });
}

// ---------------------------------------------------------------- role guard

/** Disables a change control for viewers, keeping it in place with an explanation. */
export function guard(el, ctx, need = 'write') {
  const allowed = need === 'admin' ? ctx.isAdmin : ctx.canWrite;
  if (!allowed) {
    el.disabled = true;
    el.title = need === 'admin' ? t('role.admin_only') : t('role.viewer_readonly', { role: t(`role.${ctx.session.role}`) });
    el.classList.add('is-readonly');
  }
  return el;
}

// ---------------------------------------------------------------- tables

/**
 * A table. `columns`: [{label, class?, sr? (visually hidden header)}]; `rows`: arrays of cells
 * (nodes or text) or {cells, props} objects.
 */
export function table({ caption, columns, rows, id, className = 'table' }) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class },
    c.sr ? h('span', { class: 'visually-hidden', text: c.label }) : c.label))));
  const tbody = h('tbody', {});
  for (const r of rows) {
    const cells = Array.isArray(r) ? r : r.cells;
    const props = Array.isArray(r) ? {} : r.props;
    tbody.appendChild(h('tr', props, cells.map((c, i) => h('td', { class: columns[i] && columns[i].class }, c))));
  }
  return h('table', { class: className, id }, caption ? h('caption', { class: 'visually-hidden', text: caption }) : null, thead, tbody);
}

/** A key/value table; times (keys ending in `_at`, `_seen`, `time`) shown local. */
export function kvTable(obj, { caption, id, labels = {} } = {}) {
  const rows = Object.entries(obj || {}).map(([k, v]) => h('tr', {},
    h('th', { scope: 'row', text: labels[k] || k }),
    h('td', {}, /(_at|_seen|_time|^time|timestamp|_hit|until)$/.test(k) && typeof v === 'string' ? timeEl(v) : valueText(v))));
  return h('table', { class: 'table kv', id },
    caption ? h('caption', { class: 'visually-hidden', text: caption }) : null,
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: '2', class: 'muted', text: t('state.none') }))));
}

/** A card section with a heading. */
export function card(title, body, { id, actions, className } = {}) {
  const headId = id ? `${id}-heading` : undefined;
  return h('section', { class: ['card', className], id, 'aria-labelledby': headId },
    h('div', { class: 'card-head' }, h('h2', { id: headId, class: 'card-title', text: title }), actions || null),
    h('div', { class: 'card-body' }, body));
}


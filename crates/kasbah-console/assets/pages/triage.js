// pages/triage.js — Alert triage actions shared by the alert queue (bulk) and the alert page:
// acknowledge, assign (asks a name), close (asks a resolution and a note), reopen, each a POST on
// /api/v1/alerts/{id}/..., run for many alerts at a time with a summary of what failed.

import { t, tn } from '../i18n.js';
import { api, seg } from '../api.js';
import { h, pool } from '../util.js';
import { formDialog, promptDialog, toast } from '../ui.js';

export const RESOLUTIONS = ['true_positive', 'benign_positive', 'false_positive', 'duplicate'];

/** Asks for an assignee; resolves to {assignee} (null: unassign) or null when cancelled. */
export async function askAssignee(ctx, current) {
  const me = h('button', { type: 'button', class: 'btn btn-small', id: 'assign-me', text: t('triage.assign_me', { user: ctx.session.user }) });
  me.addEventListener('click', () => {
    const input = document.getElementById('assign-name');
    if (input) input.value = ctx.session.user;
  });
  const value = await promptDialog({
    id: 'assign-dialog', inputId: 'assign-name', confirmId: 'assign-confirm',
    title: t('triage.assign_title'), label: t('triage.assign_label'), value: current ?? ctx.session.user,
    confirm: t('triage.assign'),
    extra: h('p', { class: 'field-hint' }, me, ' ', t('triage.assign_hint')),
  });
  if (value === null) return null;
  return { assignee: value || null };
}

/** Asks for a resolution and note; resolves to {resolution, note} or null. */
export async function askClose(count = 1) {
  const sel = h('select', { id: 'close-resolution', class: 'select', required: true },
    RESOLUTIONS.map((r) => h('option', { value: r, text: t(`resolution.${r}`) })));
  const note = h('textarea', { id: 'close-note', class: 'input', rows: '3', maxlength: '4000' });
  const form = await formDialog({
    id: 'close-dialog', confirmId: 'close-confirm',
    title: count > 1 ? tn('triage.close_title_many', count) : t('triage.close_title'),
    confirm: t('triage.close'),
    body: [
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('triage.resolution') }), sel),
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('triage.note') }), note),
    ],
  });
  if (!form) return null;
  return { resolution: sel.value, note: note.value.trim() || null };
}

/**
 * Runs `action` (acknowledge, assign, close, reopen) on each id, 4 at a time. Toasts a summary;
 * resolves to {done: [ids], failed: [{id, error}]}.
 */
export async function runAction(ids, action, body) {
  const results = await pool(ids, 4, (id) => api.post(`/api/v1/alerts/${seg(id)}/${action}`, body));
  const done = [];
  const failed = [];
  results.forEach((r, i) => (r.ok ? done.push(ids[i]) : failed.push({ id: ids[i], error: r.error })));
  if (failed.length === 0) {
    toast(tn(`triage.done_${action}`, done.length), { kind: 'success' });
  } else {
    const first = failed[0].error || {};
    const msg = done.length
      ? t('triage.partial', { done: done.length, failed: failed.length, message: first.message || '' })
      : (ids.length > 1 ? t('triage.all_failed', { n: failed.length, message: first.message || '' }) : (first.message || t('error.unexpected')));
    toast(msg, { kind: 'error', code: first.code });
  }
  return { done, failed };
}

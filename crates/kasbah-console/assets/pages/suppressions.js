// pages/suppressions.js — Suppressions (#/suppressions?expired=true): who silenced what, why,
// until when, and how many alerts each one has held back since; lifting one (DELETE
// /api/v1/suppressions/{id}). Also the "Suppress" dialog the alert page opens: a rule, an
// entity of the alert, or both, with a mandatory reason and an expiry.

import { t, tn, has } from '../i18n.js';
import { api, seg, isAbort } from '../api.js';
import { h, replace, fmtNumber, timeEl, pool } from '../util.js';
import { loading, empty, errorState, guard, table, formDialog, confirmDialog, toast, toastError } from '../ui.js';
import { entityChips } from './alerts.js';

/** Expiry choices of the dialog, in seconds (null: until lifted). */
export const EXPIRIES = [['1h', 3600], ['24h', 86400], ['7d', 7 * 86400], ['30d', 30 * 86400], ['never', null]];


/**
 * Asks what to suppress for alert `a`; creates the suppression and resolves to it (null when
 * cancelled). Scopes: the alert's rule for one of its entities, the rule everywhere, or one
 * entity for every rule.
 */
export async function askSuppress(a) {
  const scopes = [];
  for (const e of a.entities || []) scopes.push({ key: `rule+${e.kind}:${e.value}`, rule: a.rule_id, entity: e });
  scopes.push({ key: 'rule', rule: a.rule_id, entity: null });
  for (const e of a.entities || []) scopes.push({ key: `${e.kind}:${e.value}`, rule: null, entity: e });
  const label = (s) => {
    const ent = s.entity ? `${has(`entity.${s.entity.kind}`) ? t(`entity.${s.entity.kind}`) : s.entity.kind} ${s.entity.value}` : '';
    if (s.rule && s.entity) return t('suppress.scope_rule_entity', { entity: ent });
    if (s.rule) return t('suppress.scope_rule');
    return t('suppress.scope_entity', { entity: ent });
  };
  const scopeSel = h('select', { id: 'suppress-scope', class: 'select' }, scopes.map((s, i) => h('option', { value: String(i), text: label(s) })));
  const reason = h('textarea', { id: 'suppress-reason', class: 'input', rows: '3', maxlength: '4000', 'aria-required': 'true', placeholder: t('suppress.reason_placeholder') });
  const expiry = h('select', { id: 'suppress-expiry', class: 'select' },
    EXPIRIES.map(([k]) => h('option', { value: k, selected: k === '7d', text: t(`suppress.expiry_${k}`) })));
  const closeToo = h('input', { id: 'suppress-close', type: 'checkbox', checked: false, disabled: a.status === 'closed' });
  const form = await formDialog({
    id: 'suppress-dialog', confirmId: 'suppress-confirm',
    title: t('suppress.title'),
    confirm: t('suppress.confirm'),
    body: [
      h('p', { class: 'muted small', text: t('suppress.hint') }),
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('suppress.scope') }), scopeSel),
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('suppress.reason') }), reason),
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('suppress.expiry') }), expiry),
      h('label', { class: 'inline-field checkbox' }, closeToo, h('span', { text: t('suppress.close_too') })),
    ],
    validate: () => (reason.value.trim() ? null : t('suppress.reason_required')),
  });
  if (!form) return null;
  const scope = scopes[Number(scopeSel.value)] || scopes[0];
  const secs = (EXPIRIES.find(([k]) => k === expiry.value) || [])[1];
  const body = { reason: reason.value.trim() };
  if (scope.rule) body.rule_id = scope.rule;
  if (scope.entity) body.entity = { kind: scope.entity.kind, value: String(scope.entity.value) };
  if (secs) body.expires_in_secs = secs;
  try {
    const s = await api.post('/api/v1/suppressions', body);
    if (closeToo.checked) {
      await api.post(`/api/v1/alerts/${seg(a.id)}/close`, { resolution: 'false_positive', note: t('suppress.close_note', { reason: body.reason }) });
    }
    toast(t('suppress.created'), { kind: 'success' });
    return s;
  } catch (e) {
    toastError(e);
    return null;
  }
}

export function mount(root, ctx) {
  let alive = true;
  const expired = h('input', { id: 'suppressions-expired', type: 'checkbox', checked: ctx.params.get('expired') === 'true' });
  const box = h('div', { id: 'suppressions-box' }, loading());
  const count = h('p', { id: 'suppressions-count', class: 'muted small' });
  replace(root, h('section', { id: 'page-suppressions', class: 'page', 'aria-labelledby': 'suppressions-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/alerts', text: t('suppressions.back') })),
    h('div', { class: 'page-head' },
      h('div', { class: 'title-block' }, h('h1', { id: 'suppressions-title', text: t('suppressions.title') }),
        h('p', { class: 'muted small', text: t('suppressions.hint') })),
      h('div', { class: 'toolbar' }, h('label', { class: 'inline-field checkbox' }, expired, h('span', { text: t('suppressions.show_expired') })))),
    count, box));
  expired.addEventListener('change', () => {
    const p = new URLSearchParams();
    if (expired.checked) p.set('expired', 'true');
    ctx.setParams(p);
    load();
  });

  async function lift(s) {
    const ok = await confirmDialog({ title: t('suppressions.lift_title'), message: t('suppressions.lift_confirm', { reason: s.reason }), confirm: t('suppressions.lift') });
    if (!ok) return;
    try {
      await api.del(`/api/v1/suppressions/${seg(s.id)}`);
      toast(t('suppressions.lifted'), { kind: 'success' });
      load();
    } catch (e) {
      toastError(e);
    }
  }

  const titles = new Map(); // rule id -> title, fetched once per id

  function render(list) {
    const now = Date.now();
    count.textContent = tn('suppressions.count', list.length);
    if (!list.length) {
      replace(box, empty(t('suppressions.none')));
      return;
    }
    const rows = list.map((s) => {
      const gone = s.expires_at && Date.parse(s.expires_at) <= now;
      const liftBtn = guard(h('button', { type: 'button', class: 'btn btn-small btn-danger suppression-lift', text: t('suppressions.lift') }), ctx);
      liftBtn.addEventListener('click', () => lift(s));
      return {
        props: { class: ['suppression-row', gone ? 'is-expired' : null], dataset: { id: String(s.id) } },
        cells: [
          s.rule_id ? h('a', { href: `#/rules/${encodeURIComponent(s.rule_id)}`, title: s.rule_id, text: titles.get(s.rule_id) || s.rule_id }) : h('span', { class: 'muted', text: t('suppress.any_rule') }),
          s.entity ? entityChips([s.entity]) : h('span', { class: 'muted', text: t('suppress.any_entity') }),
          h('span', { class: 'wrap', text: s.reason }),
          s.created_by || '—',
          timeEl(s.created_at),
          s.expires_at ? [timeEl(s.expires_at), gone ? h('span', { class: 'badge muted', text: t('suppressions.expired') }) : null] : t('suppressions.never'),
          fmtNumber(s.hits || 0),
          liftBtn,
        ],
      };
    });
    replace(box, h('div', { class: 'table-scroll' }, table({
      id: 'suppressions-table',
      caption: t('suppressions.title'),
      columns: [
        { label: t('col.rule') }, { label: t('col.entity') }, { label: t('suppress.reason') }, { label: t('suppressions.created_by') },
        { label: t('suppressions.created_at') }, { label: t('suppressions.expires_at') }, { label: t('suppressions.held_back'), class: 'num' },
        { label: t('col.actions'), sr: true },
      ],
      rows,
    })));
  }

  async function load() {
    try {
      const res = await api.get('/api/v1/suppressions', { include_expired: expired.checked ? 'true' : undefined }, { signal: ctx.signal });
      const list = res.suppressions || [];
      // Rule titles for the table (a rule no longer loaded keeps its id).
      const ids = [...new Set(list.map((x) => x.rule_id).filter((id) => id && !titles.has(id)))];
      const found = await pool(ids, 4, (id) => api.get(`/api/v1/rules/${seg(id)}`, null, { signal: ctx.signal }));
      found.forEach((r, i) => titles.set(ids[i], r.ok && r.value && r.value.title ? r.value.title : ids[i]));
      if (alive) render(list);
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(box, errorState(e, load));
    }
  }
  load();
  return { unmount() { alive = false; } };
}

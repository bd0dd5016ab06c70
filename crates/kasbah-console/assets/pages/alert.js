// pages/alert.js — One alert (#/alerts/<id>): level, status, assignee, triage buttons
// (acknowledge, assign, close, reopen, suppress), ATT&CK tactics and techniques, entities with pivots to
// search, details, comments (list and add), the rule's description and YAML source, and the
// matching events with the same expandable rendering as search.

import { t, has } from '../i18n.js';
import { api, seg, isAbort, isMissing } from '../api.js';
import { h, replace, fmtNumber, flatten, timeEl, parseTime, valueText } from '../util.js';
import { card, loading, empty, errorState, levelBadge, statusBadge, guard, kvTable, toastError, toast } from '../ui.js';
import { clause } from '../query.js';
import { eventsTable } from '../events.js';
import { askAssignee, askClose, runAction } from './triage.js';
import { TACTICS } from './overview.js';
import { askSuppress } from './suppressions.js';

const ENTITY_FIELDS = { host: 'host.name', user: 'user.name', ip: 'source.ip', process: 'process.name' };
const WINDOW_MS = 24 * 3600 * 1000;

/** The search window around an alert: a day either side of its events. */
function windowOf(a) {
  const f = parseTime(a.first_seen);
  const l = parseTime(a.last_seen) || f;
  if (!f) return {};
  return { from: new Date(f.getTime() - WINDOW_MS).toISOString(), to: new Date(l.getTime() + WINDOW_MS).toISOString() };
}

function searchHref(q, win) {
  const p = new URLSearchParams({ q });
  if (win.from) p.set('from', win.from);
  if (win.to) p.set('to', win.to);
  return `#/search?${p}`;
}

function tacticName(tc) {
  return has(`tactic.${tc}`) ? t(`tactic.${tc}`) : tc;
}

export function ruleSource(rule, id) {
  if (rule && typeof rule.yaml === 'string' && rule.yaml) return h('pre', { id, class: 'code yaml', tabindex: '0', text: rule.yaml });
  return h('pre', { id, class: 'code yaml muted', tabindex: '0', text: t('rule.no_source') });
}

export function mount(root, ctx) {
  const id = ctx.id;
  let alive = true;
  const page = h('section', { id: 'page-alert', class: 'page', 'aria-labelledby': 'alert-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/alerts', text: t('alert.back') })),
    h('h1', { id: 'alert-title', text: t('alert.title_loading', { id }) }),
    loading());
  replace(root, page);

  async function load() {
    let a;
    try {
      a = await api.get(`/api/v1/alerts/${seg(id)}`, null, { signal: ctx.signal });
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(page,
        h('p', { class: 'breadcrumb' }, h('a', { href: '#/alerts', text: t('alert.back') })),
        h('h1', { id: 'alert-title', text: t('alert.title_loading', { id }) }),
        e.status === 404 ? empty(t('alert.not_found')) : errorState(e, load));
      return;
    }
    if (!alive) return;
    render(a);
  }

  function render(a) {
    const win = windowOf(a);
    const isOpen = a.status === 'open';
    const isClosed = a.status === 'closed';

    // Actions: every button stays present; what does not apply now is disabled with a reason.
    const ack = guard(h('button', { type: 'button', id: 'alert-ack', class: 'btn', text: t('alert.ack') }), ctx);
    const assign = guard(h('button', { type: 'button', id: 'alert-assign', class: 'btn', text: t('alert.assign') }), ctx);
    const close = guard(h('button', { type: 'button', id: 'alert-close', class: 'btn', text: t('alert.close') }), ctx);
    const reopen = guard(h('button', { type: 'button', id: 'alert-reopen', class: 'btn', text: t('alert.reopen') }), ctx);
    const suppress = guard(h('button', { type: 'button', id: 'alert-suppress', class: 'btn', text: t('alert.suppress'), title: t('alert.suppress_title') }), ctx);
    if (ctx.canWrite) {
      if (!isOpen) { ack.disabled = true; ack.title = t('alert.ack_not_open'); }
      if (isClosed) { close.disabled = true; close.title = t('alert.already_closed'); }
      if (isOpen) { reopen.disabled = true; reopen.title = t('alert.already_open'); }
    }
    const act = async (action, body) => {
      const { done } = await runAction([a.id], action, body);
      if (done.length) load();
    };
    ack.addEventListener('click', () => act('acknowledge'));
    assign.addEventListener('click', async () => {
      const body = await askAssignee(ctx, a.assignee || '');
      if (body) act('assign', body);
    });
    close.addEventListener('click', async () => {
      const body = await askClose(1);
      if (body) act('close', body);
    });
    reopen.addEventListener('click', () => act('reopen'));
    suppress.addEventListener('click', async () => {
      if (await askSuppress(a)) load();
    });

    // Summary facts.
    const facts = [
      [t('alert.f_id'), `#${a.id}`],
      [t('alert.f_rule'), h('a', { href: `#/rules/${encodeURIComponent(a.rule_id)}`, text: a.rule_id })],
      [t('alert.f_kind'), has(`alerts.kind_${a.kind}`) ? t(`alerts.kind_${a.kind}`) : String(a.kind)],
      [t('alert.f_count'), fmtNumber(a.count ?? a.event_count)],
      [t('alert.f_first_seen'), timeEl(a.first_seen)],
      [t('alert.f_last_seen'), timeEl(a.last_seen)],
      [t('alert.f_assignee'), h('span', { id: 'alert-assignee', class: a.assignee ? '' : 'muted', text: a.assignee || t('alerts.unassigned') })],
      [t('alert.f_resolution'), a.resolution ? (has(`resolution.${a.resolution}`) ? t(`resolution.${a.resolution}`) : a.resolution) : '—'],
      [t('alert.f_note'), a.resolution_note || '—'],
      [t('alert.f_retro'), a.retro ? t('state.yes') : t('state.no')],
      [t('alert.f_created'), timeEl(a.created_at)],
      [t('alert.f_updated'), timeEl(a.updated_at)],
    ];
    const factsTable = h('table', { class: 'table kv', id: 'alert-facts' },
      h('caption', { class: 'visually-hidden', text: t('alert.summary') }),
      h('tbody', {}, facts.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', {}, v)))));

    // ATT&CK.
    const tactics = ((a.attack && a.attack.tactics) || []).slice().sort((x, y) => TACTICS.indexOf(x) - TACTICS.indexOf(y));
    const techniques = (a.attack && a.attack.techniques) || [];
    const attack = h('div', { id: 'alert-attack' },
      tactics.length || techniques.length
        ? h('dl', { class: 'facts' },
          h('div', { class: 'fact' }, h('dt', { text: t('alert.tactics') }), h('dd', {}, tactics.length ? h('span', { class: 'chips' }, tactics.map((tc) => h('span', { class: 'chip tactic', text: tacticName(tc) }))) : '—')),
          h('div', { class: 'fact' }, h('dt', { text: t('alert.techniques') }), h('dd', {}, techniques.length ? h('span', { class: 'chips' }, techniques.map((tq) => h('span', { class: 'chip technique', title: tq, text: tq }))) : '—')))
        : h('p', { class: 'muted', text: t('alert.no_attack') }),
      (a.tags || []).length ? h('p', { class: 'muted small tags' }, `${t('alert.tags')}: `, (a.tags || []).join(', ')) : null);

    // Entities with pivots.
    const entities = a.entities || [];
    const entityList = h('ul', { id: 'alert-entities', class: 'entity-list' }, entities.length ? entities.map((e) => {
      const field = ENTITY_FIELDS[e.kind];
      const q = field ? clause(field, String(e.value)) : clause('message', String(e.value)).replace(/^message:/, '');
      return h('li', { class: 'entity-item' },
        h('span', { class: `chip entity entity-${e.kind}` }, h('span', { class: 'chip-kind', text: has(`entity.${e.kind}`) ? t(`entity.${e.kind}`) : e.kind }), h('span', { class: 'chip-value', text: String(e.value) })),
        h('span', { class: 'entity-links' },
          h('a', { class: 'pivot', href: searchHref(q, win), text: t('alert.pivot_search'), title: t('alert.pivot_search_title', { q }) }),
          h('a', { class: 'pivot', href: searchHref(q, {}), text: t('alert.pivot_all_time') }),
          h('a', { class: 'pivot', href: `#/alerts?${new URLSearchParams({ q: `${e.kind}:${e.value}`, status: 'all' })}`, text: t('alert.pivot_alerts') })));
    }) : h('li', { class: 'muted', text: t('alert.no_entities') }));

    // Details.
    const details = a.details && typeof a.details === 'object' ? flatten(a.details) : (a.details === null || a.details === undefined ? {} : { value: valueText(a.details) });
    const detailsBox = h('div', { id: 'alert-details' }, Object.keys(details).length ? kvTable(details, { caption: t('alert.details') }) : h('p', { class: 'muted', text: t('state.none') }));

    // Comments.
    const commentList = h('ol', { class: 'comments', id: 'alert-comment-list' }, (a.comments || []).length
      ? (a.comments || []).map((c) => h('li', { class: 'comment' },
        h('p', { class: 'comment-meta' }, h('strong', { text: c.author || '—' }), ' · ', timeEl(c.created_at)),
        h('p', { class: 'comment-text', text: c.text })))
      : h('li', { class: 'muted', text: t('alert.no_comments') }));
    const commentText = h('textarea', { id: 'comment-text', class: 'input', rows: '3', maxlength: '65536', 'aria-label': t('alert.comment_label'), placeholder: t('alert.comment_placeholder') });
    const commentBtn = guard(h('button', { type: 'submit', id: 'comment-submit', class: 'btn btn-primary', text: t('alert.comment_add') }), ctx);
    if (!ctx.canWrite) commentText.disabled = true;
    const commentForm = h('form', { id: 'comment-form', class: 'comment-form' }, commentText, h('div', { class: 'form-actions' }, commentBtn));
    commentForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = commentText.value.trim();
      if (!text) { commentText.focus(); return; }
      commentBtn.disabled = true;
      try {
        await api.post(`/api/v1/alerts/${seg(a.id)}/comments`, { text });
        commentText.value = '';
        toast(t('alert.comment_added'), { kind: 'success' });
        load();
      } catch (e) {
        toastError(e);
      } finally {
        commentBtn.disabled = !ctx.canWrite;
      }
    });

    const ruleBox = h('div', { id: 'alert-rule' }, loading());
    const eventsBox = h('div', { id: 'alert-events' }, loading());

    replace(page,
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/alerts', text: t('alert.back') })),
      h('div', { class: 'page-head' },
        h('div', { class: 'title-block' },
          h('h1', { id: 'alert-title', text: a.rule_title || a.rule_id }),
          h('p', { class: 'title-badges' },
            h('span', { id: 'alert-level' }, levelBadge(a.level)), ' ',
            h('span', { id: 'alert-status' }, statusBadge(a.status)), ' ',
            h('span', { class: 'muted small', text: `#${a.id}` }))),
        h('div', { class: 'toolbar', role: 'group', 'aria-label': t('alert.actions') }, ack, assign, close, reopen, suppress)),
      h('div', { class: 'grid grid-2' },
        card(t('alert.summary'), factsTable, { id: 'card-alert-summary' }),
        h('div', { class: 'stack' },
          card(t('alert.attack'), attack, { id: 'card-alert-attack' }),
          card(t('alert.entities'), entityList, { id: 'card-alert-entities' }))),
      h('div', { class: 'grid grid-2' },
        card(t('alert.details'), detailsBox, { id: 'card-alert-details' }),
        card(t('alert.comments'), [commentList, commentForm], { id: 'card-alert-comments' })),
      card(t('alert.rule'), ruleBox, { id: 'card-alert-rule' }),
      card(t('alert.events'), eventsBox, { id: 'card-alert-events' }));

    loadRule(a, ruleBox);
    loadEvents(a, eventsBox, win);
  }

  async function loadRule(a, box) {
    try {
      const r = await api.get(`/api/v1/rules/${seg(a.rule_id)}`, null, { signal: ctx.signal });
      if (!alive) return;
      replace(box,
        h('p', {}, h('a', { href: `#/rules/${encodeURIComponent(a.rule_id)}`, text: r.title || a.rule_id }), ' ', levelBadge(r.level || a.level)),
        r.description ? h('p', { class: 'description', id: 'alert-rule-description', text: r.description }) : h('p', { class: 'muted', text: t('rule.no_description') }),
        (r.falsepositives || []).length ? h('p', { class: 'small' }, h('strong', { text: `${t('rule.falsepositives')}: ` }), r.falsepositives.join('; ')) : null,
        h('h3', { class: 'subhead', text: t('rule.source') }),
        ruleSource(r, 'alert-rule-yaml'));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(box,
        isMissing(e) || e.status === 404 || e.code === 'detection_disabled'
          ? h('p', { class: 'muted', text: t('alert.rule_unavailable', { message: e.message }) })
          : errorState(e, () => loadRule(a, box)),
        h('pre', { id: 'alert-rule-yaml', class: 'code yaml muted', text: t('rule.no_source') }));
    }
  }

  async function loadEvents(a, box, win) {
    try {
      const res = await api.get(`/api/v1/alerts/${seg(a.id)}/events`, null, { signal: ctx.signal });
      if (!alive) return;
      const list = res.events || [];
      if (!list.length) {
        replace(box, empty(a.kind === 'correlation' ? t('alert.no_events_correlation') : t('alert.no_events')));
        return;
      }
      const tbl = eventsTable({
        events: list,
        caption: t('alert.events'),
        id: 'alert-events-table',
        onFilter: (field, value, negate) => ctx.navigate(searchHref(clause(field, value, negate), win)),
      });
      replace(box, h('p', { class: 'muted small', text: t('alert.events_count', { n: fmtNumber(list.length), total: fmtNumber(a.count ?? list.length) }) }), h('div', { class: 'table-scroll' }, tbl.el));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(box, errorState(e, () => loadEvents(a, box, win)));
    }
  }

  load();
  return {
    unmount() {
      alive = false;
    },
  };
}

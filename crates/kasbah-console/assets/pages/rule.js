// pages/rule.js — One detection rule (#/rules/<id>): metadata, description, tags, enable toggle,
// statistics with top entities (pivots to search), the rule's YAML source, "Test this rule"
// against pasted events (POST /api/v1/rules/test with `rule_id`), and a retro-hunt: the rule over
// stored events of a past range (POST /api/v1/retrohunt), raising alerts marked retrospective.

import { t, has } from '../i18n.js';
import { api, seg, isAbort } from '../api.js';
import { h, replace, fmtNumber, timeEl } from '../util.js';
import { card, loading, empty, errorState, levelBadge, table } from '../ui.js';
import { clause } from '../query.js';
import { ruleToggle, testForm, retroForm } from './rules.js';
import { ruleSource } from './alert.js';

const ENTITY_FIELDS = { host: 'host.name', user: 'user.name', ip: 'source.ip', process: 'process.name' };

function searchHref(q) {
  return `#/search?${new URLSearchParams({ q })}`;
}

export function mount(root, ctx) {
  const id = ctx.id;
  let alive = true;
  const page = h('section', { id: 'page-rule', class: 'page', 'aria-labelledby': 'rule-title' },
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/rules', text: t('rule.back') })),
    h('h1', { id: 'rule-title', text: id }),
    loading());
  replace(root, page);

  function render(r) {
    const s = r.stats || {};
    const meta = [
      [t('rule.f_id'), h('code', { text: r.id })],
      [t('col.level'), levelBadge(r.level)],
      [t('rule.f_status'), r.status || '—'],
      [t('rule.f_kind'), r.kind ? (has(`alerts.kind_${r.kind}`) ? t(`alerts.kind_${r.kind}`) : r.kind) : '—'],
      [t('rule.f_path'), r.path ? h('code', { text: r.line ? `${r.path}:${r.line}` : r.path }) : '—'],
      [t('rule.f_author'), r.author || '—'],
      [t('rule.f_condition'), r.condition ? h('code', { text: r.condition }) : '—'],
      [t('rule.f_reported'), r.reported === false ? t('rule.not_reported') : t('state.yes')],
      [t('rule.falsepositives'), (r.falsepositives || []).length ? h('ul', { class: 'plain-list' }, r.falsepositives.map((x) => h('li', { text: String(x) }))) : '—'],
      [t('rule.references'), (r.references || []).length ? h('ul', { class: 'plain-list' }, r.references.map((x) => h('li', {}, h('code', { class: 'wrap', text: String(x) })))) : '—'],
    ];
    const metaTable = h('table', { class: 'table kv', id: 'rule-meta' },
      h('caption', { class: 'visually-hidden', text: t('rule.metadata') }),
      h('tbody', {}, meta.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', {}, v)))));

    const statsFacts = h('dl', { class: 'facts', id: 'rule-stats' },
      [[t('col.hits'), fmtNumber(s.hits || 0)], [t('col.alerts'), fmtNumber(s.alerts || 0)], [t('col.last_hour'), fmtNumber(s.last_hour || 0)],
        [t('col.last_hit'), s.last_hit ? timeEl(s.last_hit) : t('rules.never')],
        [t('col.noisy'), s.noisy ? h('span', { class: 'badge noisy', text: t('rules.noisy') }) : t('state.no')]]
        .map(([k, v]) => h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', {}, v))));
    const top = s.top || [];
    const topTable = top.length ? table({
      id: 'rule-top',
      caption: t('rule.top_entities'),
      className: 'table compact',
      columns: [{ label: t('col.kind') }, { label: t('col.value') }, { label: t('col.count'), class: 'num' }],
      rows: top.map((e) => {
        const field = ENTITY_FIELDS[e.kind];
        return [
          has(`entity.${e.kind}`) ? t(`entity.${e.kind}`) : e.kind,
          field ? h('a', { href: searchHref(clause(field, String(e.value))), class: 'pivot', text: String(e.value) }) : String(e.value),
          fmtNumber(e.count),
        ];
      }),
    }) : h('p', { class: 'muted', text: t('rule.no_hits') });

    const tags = r.tags || [];
    const tagsBox = h('p', { id: 'rule-tags', class: 'chips' }, tags.length ? tags.map((tg) => h('span', { class: 'chip', text: tg })) : h('span', { class: 'muted', text: t('rule.no_tags') }));

    const test = testForm({
      ids: { events: 'rule-test-events', run: 'rule-test-run', result: 'rule-test-result', format: 'rule-test-format' },
      rulePart: () => ({ body: { rule_id: r.id } }),
    });

    replace(page,
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/rules', text: t('rule.back') })),
      h('div', { class: 'page-head' },
        h('div', { class: 'title-block' },
          h('h1', { id: 'rule-title', text: r.title || r.id }),
          h('p', { class: 'title-badges' }, levelBadge(r.level), ' ', s.noisy ? h('span', { class: 'badge noisy', text: t('rules.noisy') }) : null)),
        h('div', { class: 'toolbar' },
          ruleToggle(ctx, r),
          h('a', { class: 'btn', href: `#/alerts?${new URLSearchParams({ rule: r.id, status: 'all' })}`, id: 'rule-alerts-link', text: t('rule.show_alerts') }))),
      card(t('rule.description'), [
        r.description ? h('p', { id: 'rule-description', class: 'description', text: r.description }) : h('p', { id: 'rule-description', class: 'muted', text: t('rule.no_description') }),
        tagsBox,
      ], { id: 'card-rule-description' }),
      h('div', { class: 'grid grid-2' },
        card(t('rule.metadata'), metaTable, { id: 'card-rule-meta' }),
        card(t('rule.stats'), [statsFacts, h('h3', { class: 'subhead', text: t('rule.top_entities') }), topTable], { id: 'card-rule-stats' })),
      card(t('rule.source'), ruleSource(r, 'rule-yaml'), { id: 'card-rule-source' }),
      card(t('rule.test'), [h('p', { class: 'muted small', text: t('rule.test_hint') }), test], { id: 'rule-test' }),
      r.kind === 'correlation' ? null : card(t('retro.title'), [h('p', { class: 'muted small', text: t('retro.hint') }), retroForm(ctx, {
        prefix: 'retro',
        rulePart: () => ({ body: { rules: [r.id] } }),
        alertsHref: `#/alerts?${new URLSearchParams({ rule: r.id, status: 'all', origin: 'retro' })}`,
      })], { id: 'rule-retro' }));
  }

  async function load() {
    try {
      const r = await api.get(`/api/v1/rules/${seg(id)}`, null, { signal: ctx.signal });
      if (alive) render(r);
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(page,
        h('p', { class: 'breadcrumb' }, h('a', { href: '#/rules', text: t('rule.back') })),
        h('h1', { id: 'rule-title', text: id }),
        e.status === 404 ? empty(t('rule.not_found')) : errorState(e, load));
    }
  }
  load();
  return { unmount() { alive = false; } };
}

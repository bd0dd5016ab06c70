// pages/rules.js — The detection rules list (#/rules?q=&noisy=true&enabled=): rules with level,
// enable/disable toggle, hits, alerts, last hour, noisy badge and last hit, sortable columns;
// "Import Sigma rules" for this tenant (POST /api/v1/rules/imports; the imported files listed
// with their rules and a delete button); and "Test a new Sigma rule" against pasted events
// (POST /api/v1/rules/test with `sigma`). Also exports the rule test form used by the rule page.

import { t, tn, has } from '../i18n.js';
import { api, seg, isAbort, isMissing, ApiError } from '../api.js';
import { h, replace, fmtNumber, fmtMs, timeEl, debounce, parseTime } from '../util.js';
import { loading, empty, errorState, levelBadge, guard, toastError, toast, confirmDialog, LEVELS } from '../ui.js';

const FORMATS = ['auto', 'json', 'syslog', 'cef', 'leef', 'zeek'];

/** The enable/disable button of a rule; `onChange(enabled)` after the server agreed. */
export function ruleToggle(ctx, rule, onChange) {
  const btn = h('button', { type: 'button', class: 'rule-toggle switch', dataset: { id: rule.id } });
  const paint = (on) => {
    btn.setAttribute('aria-pressed', String(on));
    btn.classList.toggle('is-on', on);
    btn.replaceChildren(h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), h('span', { class: 'switch-label', text: on ? t('rules.enabled') : t('rules.disabled') }));
    btn.setAttribute('aria-label', t(on ? 'rules.toggle_disable' : 'rules.toggle_enable', { title: rule.title || rule.id }));
  };
  let on = rule.enabled !== false;
  paint(on);
  guard(btn, ctx);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const res = await api.post(`/api/v1/rules/${seg(rule.id)}/${on ? 'disable' : 'enable'}`);
      on = res && typeof res.enabled === 'boolean' ? res.enabled : !on;
      paint(on);
      toast(t(on ? 'rules.now_enabled' : 'rules.now_disabled', { title: rule.title || rule.id }), { kind: 'success' });
      if (onChange) onChange(on);
    } catch (e) {
      toastError(e);
    } finally {
      btn.disabled = false;
      guard(btn, ctx);
    }
  });
  return btn;
}

/** Non-blank lines of pasted text, to show the event a match refers to when lines map 1:1. */
function lines(text) {
  return String(text).split(/\r?\n/).filter((l) => l.trim());
}

/** The result of POST /api/v1/rules/test. */
export function renderTestResult(res, text) {
  const parts = [];
  const matches = res.matches || [];
  const corr = res.correlations || [];
  const matched = res.matched_events ?? new Set(matches.map((m) => m.event)).size;
  parts.push(h('p', { class: 'test-summary', role: 'status' },
    t('test.summary', { events: fmtNumber(res.events), rejected: fmtNumber(res.rejected), matched: fmtNumber(matched), matches: fmtNumber(matches.length) })));
  const errs = res.errors || [];
  if (errs.length) {
    parts.push(h('h3', { class: 'subhead', text: t('test.errors') }),
      h('table', { class: 'table compact test-errors' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('test.record') }), h('th', { scope: 'col', text: t('test.code') }), h('th', { scope: 'col', text: t('test.message') }))),
        h('tbody', {}, errs.map((e) => h('tr', {}, h('td', { class: 'num', text: String(e.record ?? '') }), h('td', {}, h('code', { text: String(e.code ?? '') })), h('td', { text: String(e.message ?? '') }))))));
  }
  const ls = lines(text);
  const oneToOne = !res.rejected && ls.length === res.events;
  if (matches.length) {
    parts.push(h('h3', { class: 'subhead', text: t('test.matches') }),
      h('table', { class: 'table compact test-matches' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', class: 'num', text: t('test.event') }),
          h('th', { scope: 'col', text: t('col.level') }),
          h('th', { scope: 'col', text: t('col.rule') }),
          oneToOne ? h('th', { scope: 'col', text: t('test.line') }) : null)),
        h('tbody', {}, matches.map((m) => h('tr', { class: 'test-match' },
          h('td', { class: 'num', text: fmtNumber(Number(m.event) + 1) }),
          h('td', {}, levelBadge(m.level)),
          h('td', {}, m.title || m.rule_id, m.rule_id && m.title ? h('span', { class: 'muted small', text: ` ${m.rule_id}` }) : null),
          oneToOne ? h('td', {}, h('code', { class: 'line-snippet', text: (ls[m.event] || '').slice(0, 300) })) : null)))));
  }
  if (corr.length) {
    parts.push(h('h3', { class: 'subhead', text: t('test.correlations') }),
      h('table', { class: 'table compact' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('col.level') }), h('th', { scope: 'col', text: t('col.rule') }), h('th', { scope: 'col', text: t('test.group') }), h('th', { scope: 'col', class: 'num', text: t('test.corr_events') }))),
        h('tbody', {}, corr.map((c) => h('tr', {},
          h('td', {}, levelBadge(c.level)),
          h('td', { text: c.title || c.rule_id }),
          h('td', { text: (c.group || []).map((g) => `${g.field}=${g.value}`).join(', ') }),
          h('td', { class: 'num', text: fmtNumber(Array.isArray(c.events) ? c.events.length : c.events) }))))));
  }
  if (!matches.length && !corr.length) parts.push(h('p', { class: 'state state-empty test-nomatch', text: res.events ? t('test.no_match') : t('test.no_events') }));
  return h('div', { class: 'test-result' }, parts);
}

/** The rule part of a form's request, or null after saying in `result` why there is none. */
function rulePartOrError(rulePart, result) {
  const part = rulePart();
  if (!part.error) return part;
  replace(result, h('p', { class: 'form-error', role: 'alert', text: part.error }));
  return null;
}

/**
 * A rule test form. `ids`: {events, run, result, format, sigma?}; `body()` gives the rule part
 * ({rule_id} or {sigma}) or null with an error text.
 */
export function testForm({ ids, rulePart, sigmaInput }) {
  const events = h('textarea', { id: ids.events, class: 'input code-input', rows: '8', spellcheck: 'false', placeholder: t('test.events_placeholder') });
  const format = h('select', { id: ids.format, class: 'select' }, FORMATS.map((f) => h('option', { value: f, text: t(`format.${f}`) })));
  const run = h('button', { type: 'submit', id: ids.run, class: 'btn btn-primary', text: t('test.run') });
  const result = h('div', { id: ids.result, class: 'test-result-box', 'aria-live': 'polite' });
  const form = h('form', { class: 'test-form', id: `${ids.run}-form` },
    sigmaInput ? h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('test.sigma_label') }), sigmaInput) : null,
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('test.events_label') }), events, h('span', { class: 'field-hint', text: t('test.events_hint') })),
    h('div', { class: 'form-actions' }, h('label', { class: 'inline-field' }, h('span', { text: t('test.format') }), format), run),
    result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const part = rulePartOrError(rulePart, result);
    if (!part) return;
    if (!events.value.trim()) {
      replace(result, h('p', { class: 'form-error', role: 'alert', text: t('test.need_events') }));
      events.focus();
      return;
    }
    run.disabled = true;
    replace(result, loading(t('test.running')));
    const text = events.value;
    try {
      const res = await api.post('/api/v1/rules/test', { ...part.body, events: text, format: format.value });
      replace(result, renderTestResult(res, text));
    } catch (e) {
      if (isAbort(e)) return;
      if (isMissing(e)) {
        replace(result, h('p', { class: 'form-error', role: 'alert', text: t('test.unavailable') }));
      } else if (e instanceof ApiError && (e.code === 'invalid_rule' || e.code === 'bad_request')) {
        replace(result, h('div', { class: 'form-error rule-error', role: 'alert' },
          h('p', {}, h('strong', { text: e.code === 'invalid_rule' ? t('test.invalid_rule') : t('test.bad_request') }), ' ', h('code', { class: 'err-code', text: e.code })),
          h('pre', { class: 'code', text: e.message })));
        toastError(e);
      } else {
        replace(result, errorState(e));
        toastError(e);
      }
    } finally {
      run.disabled = false;
    }
  });
  return form;
}

/** Ranges a retro-hunt offers, as relative `from` values of the API. */
const RETRO_RANGES = ['-24h', '-7d', '-30d', '-90d', '-365d'];

/**
 * A retro-hunt form (POST /api/v1/retrohunt): range, optional filter, run, and what it found.
 * `rulePart()` gives `{body}` (`rules` of loaded rules or `sigma` text) or `{error}`; element ids
 * start with `prefix`.
 */
export function retroForm(ctx, { prefix, rulePart, alertsHref }) {
  const range = h('select', { id: `${prefix}-range`, class: 'select' },
    RETRO_RANGES.map((v) => h('option', { value: v, selected: v === '-7d', text: t(`retro.range${v}`) })));
  const filter = h('input', { id: `${prefix}-query`, class: 'input mono', type: 'text', placeholder: t('retro.query_placeholder'), 'aria-label': t('retro.query') });
  const run = guard(h('button', { type: 'submit', id: `${prefix}-run`, class: 'btn btn-primary', text: t('retro.run') }), ctx);
  const result = h('div', { id: `${prefix}-result`, role: 'status' });
  const form = h('form', { id: `${prefix}-form`, class: 'inline-form' },
    h('label', { class: 'inline-field' }, h('span', { class: 'field-label', text: t('retro.range') }), range),
    h('label', { class: 'inline-field grow' }, h('span', { class: 'field-label', text: t('retro.query') }), filter),
    run);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const part = rulePartOrError(rulePart, result);
    if (!part) return;
    run.disabled = true;
    replace(result, loading(t('retro.running')));
    try {
      const body = { ...part.body, from: range.value };
      if (filter.value.trim()) body.query = filter.value.trim();
      const out = await api.post('/api/v1/retrohunt', body);
      const facts = [
        [t('retro.events'), fmtNumber(out.events || 0)], [t('retro.matches'), fmtNumber(out.matches || 0)],
        [t('retro.alerts_created'), fmtNumber(out.alerts_created || 0)], [t('retro.alerts_merged'), fmtNumber(out.alerts_merged || 0)],
        [t('retro.suppressed'), fmtNumber(out.suppressed || 0)], [t('retro.took'), fmtMs(out.took_ms || 0)],
      ];
      replace(result,
        h('dl', { class: 'facts', id: `${prefix}-facts` }, facts.map(([k, v]) => h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', { text: v })))),
        out.truncated ? h('p', { class: 'form-error', text: t('retro.truncated') }) : null,
        h('p', {}, h('a', { id: `${prefix}-alerts`, href: alertsHref, text: t('retro.show_alerts') })));
    } catch (e) {
      if (isAbort(e)) return;
      replace(result, h('div', { class: 'form-error rule-error', role: 'alert' },
        e.code ? h('p', {}, h('code', { class: 'err-code', text: e.code })) : null,
        h('pre', { class: 'code', text: e.message || String(e) })));
      if (!(e instanceof ApiError && (e.status === 400))) toastError(e);
    } finally {
      run.disabled = !ctx.canWrite;
    }
  });
  return h('div', { class: 'retro' }, form, result);
}

/** Diagnostics of a refused import: line, stable code, message. */
function diagnosticsTable(list) {
  return h('table', { class: 'table compact import-diagnostics' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num', text: t('import.line') }), h('th', { scope: 'col', text: t('test.code') }), h('th', { scope: 'col', text: t('test.message') }))),
    h('tbody', {}, list.map((d) => h('tr', {},
      h('td', { class: 'num', text: d.line ? String(d.line) : '' }),
      h('td', {}, h('code', { text: String(d.code || '') })),
      h('td', { text: String(d.message || '') })))));
}

/**
 * The import card: a name, a file (read in the browser) or pasted YAML, and the tenant's
 * imported files with their rules. `onChange()` after an import or a removal.
 */
function importCard(ctx, onChange) {
  const name = h('input', { id: 'import-name', class: 'input', maxlength: '200', placeholder: 'my_rules.yml' });
  const file = h('input', { id: 'import-file', type: 'file', class: 'input', accept: '.yml,.yaml,text/yaml,text/plain' });
  const yaml = h('textarea', { id: 'import-yaml', class: 'input code-input', rows: '12', spellcheck: 'false', placeholder: t('import.yaml_placeholder') });
  const submit = h('button', { type: 'submit', id: 'import-run', class: 'btn btn-primary', text: t('import.run') });
  const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
  const listBox = h('div', { id: 'import-list' });
  guard(submit, ctx);
  file.addEventListener('change', () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (!name.value.trim()) name.value = f.name.replace(/[\/]/g, '_');
    f.text().then((text) => { yaml.value = text; }, (e) => toastError(e));
  });
  const form = h('form', { id: 'import-form', class: 'test-form' },
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('import.name') }), name),
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('import.file') }), file),
    h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('import.yaml') }), yaml, h('span', { class: 'field-hint', text: t('import.yaml_hint') })),
    h('div', { class: 'form-actions' }, submit),
    result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!yaml.value.trim()) {
      replace(result, h('p', { class: 'form-error', role: 'alert', text: t('import.need_yaml') }));
      yaml.focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await api.post('/api/v1/rules/imports', { name: name.value.trim() || undefined, yaml: yaml.value });
      const warnings = res.warnings || [];
      replace(result, h('div', {},
        h('p', { class: 'form-ok', role: 'status', text: tn('import.done', (res.rule_ids || []).length + (res.filters || []).length, { name: res.name }) }),
        warnings.length ? h('div', { class: 'import-warnings' }, h('p', { class: 'muted small', text: t('import.warnings') }), diagnosticsTable(warnings)) : null));
      toast(t('import.done_toast', { name: res.name }), { kind: 'success' });
      yaml.value = '';
      name.value = '';
      file.value = '';
      refresh();
      onChange();
    } catch (e) {
      if (isAbort(e)) return;
      replace(result, h('div', { class: 'form-error rule-error', role: 'alert' },
        h('p', {}, h('strong', { text: t('import.refused') }), ' ', h('code', { class: 'err-code', text: e.code || '' })),
        e.diagnostics && e.diagnostics.length ? diagnosticsTable(e.diagnostics) : h('pre', { class: 'code', text: e.message })));
    } finally {
      submit.disabled = false;
      guard(submit, ctx);
    }
  });

  async function refresh() {
    try {
      const res = await api.get('/api/v1/rules/imports', undefined, { signal: ctx.signal });
      const list = res.imports || [];
      if (!list.length) {
        replace(listBox, h('p', { class: 'muted small', text: t('import.none') }));
        return;
      }
      replace(listBox, h('table', { id: 'import-table', class: 'table compact' },
        h('caption', { class: 'visually-hidden', text: t('import.table_caption') }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: t('import.name') }),
          h('th', { scope: 'col', text: t('import.rules') }),
          h('th', { scope: 'col', text: t('import.by') }),
          h('th', { scope: 'col', text: t('import.when') }),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden', text: t('import.actions') })))),
        h('tbody', {}, list.map((imp) => {
          const del = h('button', { type: 'button', class: 'btn btn-small btn-danger import-delete', dataset: { id: String(imp.id) }, text: t('import.delete') });
          guard(del, ctx);
          del.addEventListener('click', async () => {
            const ok = await confirmDialog({ title: t('import.delete_title'), message: t('import.delete_confirm', { name: imp.name }), confirm: t('import.delete') });
            if (!ok) return;
            try {
              await api.del(`/api/v1/rules/imports/${seg(imp.id)}`);
              toast(t('import.deleted', { name: imp.name }), { kind: 'success' });
              refresh();
              onChange();
            } catch (e) {
              toastError(e);
            }
          });
          return h('tr', { class: 'import-row', dataset: { id: String(imp.id) } },
            h('td', {}, h('code', { text: imp.name })),
            h('td', {},
              (imp.rule_ids || []).map((id, i) => [i ? ', ' : null, h('a', { href: `#/rules/${encodeURIComponent(id)}`, text: id })]),
              (imp.filters || []).length ? h('span', { class: 'muted small import-filters', text: ` ${tn('import.filters', imp.filters.length)}: ${imp.filters.join(', ')}` }) : null),
            h('td', { text: imp.created_by || '' }),
            h('td', {}, timeEl(imp.created_at)),
            h('td', {}, del));
        }))));
    } catch (e) {
      if (isAbort(e)) return;
      replace(listBox, isMissing(e) ? h('p', { class: 'muted small', text: t('import.unavailable') }) : errorState(e, refresh));
    }
  }
  refresh();

  return h('section', { id: 'rules-import', class: 'card', 'aria-labelledby': 'import-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'import-title', class: 'card-title', text: t('import.title') })),
    h('div', { class: 'card-body' }, h('p', { class: 'muted small', text: t('import.hint') }), listBox, form));
}

const SORTS = {
  title: (r) => String(r.title || r.id).toLowerCase(),
  level: (r) => LEVELS.indexOf(r.level),
  hits: (r) => -(r.stats ? r.stats.hits || 0 : 0),
  alerts: (r) => -(r.stats ? r.stats.alerts || 0 : 0),
  last_hour: (r) => -(r.stats ? r.stats.last_hour || 0 : 0),
  last_hit: (r) => -((r.stats && parseTime(r.stats.last_hit)) ? parseTime(r.stats.last_hit).getTime() : 0),
};

export function mount(root, ctx) {
  let alive = true;
  let list = [];
  let sort = null;
  let reqCtl = null;
  const qIn = h('input', { id: 'rules-q', type: 'search', class: 'input', placeholder: t('rules.q_placeholder'), value: ctx.params.get('q') || '' });
  const noisy = h('input', { id: 'rules-noisy', type: 'checkbox', checked: ctx.params.get('noisy') === 'true' });
  const enabled = h('select', { id: 'rules-enabled', class: 'select' },
    ['', 'true', 'false'].map((v) => h('option', { value: v, selected: (ctx.params.get('enabled') || '') === v, text: t(`rules.enabled_${v || 'all'}`) })));
  const summary = h('p', { id: 'rules-summary', class: 'muted', 'aria-live': 'polite' });
  const tableBox = h('div', { class: 'table-scroll', id: 'rules-table-box' });

  const sigma = h('textarea', { id: 'rule-sigma', class: 'input code-input', rows: '12', spellcheck: 'false', placeholder: t('test.sigma_placeholder') });
  const sigmaForm = testForm({
    ids: { events: 'rule-sigma-events', run: 'rule-sigma-run', result: 'rule-sigma-result', format: 'rule-sigma-format' },
    sigmaInput: sigma,
    rulePart: () => (sigma.value.trim() ? { body: { sigma: sigma.value } } : { error: t('test.need_sigma') }),
  });

  replace(root, h('section', { id: 'page-rules', class: 'page', 'aria-labelledby': 'rules-title' },
    h('div', { class: 'page-head' }, h('h1', { id: 'rules-title', text: t('rules.title') })),
    h('div', { class: 'filters', role: 'group', 'aria-label': t('rules.filters') },
      h('label', { class: 'inline-field grow' }, h('span', { text: t('rules.q') }), qIn),
      h('label', { class: 'inline-field checkbox' }, noisy, h('span', { text: t('rules.noisy_only') })),
      h('label', { class: 'inline-field' }, h('span', { text: t('rules.state') }), enabled)),
    summary,
    tableBox,
    importCard(ctx, () => load()),
    h('section', { id: 'rules-sigma-test', class: 'card', 'aria-labelledby': 'sigma-test-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'sigma-test-title', class: 'card-title', text: t('rules.sigma_test') })),
      h('div', { class: 'card-body' }, h('p', { class: 'muted small', text: t('rules.sigma_test_hint') }), sigmaForm,
        h('h3', { class: 'subhead', text: t('rules.sigma_retro') }),
        h('p', { class: 'muted small', text: t('rules.sigma_retro_hint') }),
        retroForm(ctx, {
          prefix: 'sigma-retro',
          rulePart: () => (sigma.value.trim() ? { body: { sigma: sigma.value } } : { error: t('test.need_sigma') }),
          alertsHref: `#/alerts?${new URLSearchParams({ status: 'all', origin: 'retro' })}`,
        })))));

  function params() {
    const p = new URLSearchParams();
    if (qIn.value.trim()) p.set('q', qIn.value.trim());
    if (noisy.checked) p.set('noisy', 'true');
    if (enabled.value) p.set('enabled', enabled.value);
    return p;
  }

  function header(key, label, cls) {
    if (!SORTS[key]) return h('th', { scope: 'col', class: cls, text: label });
    const dir = sort && sort.key === key ? sort.dir : null;
    const btn = h('button', { type: 'button', class: 'th-sort', text: label });
    btn.addEventListener('click', () => {
      sort = sort && sort.key === key ? { key, dir: -sort.dir } : { key, dir: 1 };
      render();
      const again = tableBox.querySelector(`th[data-key="${key}"] button`);
      if (again) again.focus();
    });
    return h('th', { scope: 'col', class: cls, 'aria-sort': dir ? (dir > 0 ? 'ascending' : 'descending') : 'none', dataset: { key } }, btn);
  }

  function render() {
    let rows = list.slice();
    if (sort) {
      const f = SORTS[sort.key];
      rows.sort((a, b) => {
        const x = f(a);
        const y = f(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
      });
    }
    if (!rows.length) {
      replace(tableBox, empty(t('rules.none')));
      return;
    }
    replace(tableBox, h('table', { id: 'rules-table', class: 'table rules-table' },
      h('caption', { class: 'visually-hidden', text: t('rules.table_caption') }),
      h('thead', {}, h('tr', {},
        header('title', t('col.title')),
        header('level', t('col.level')),
        h('th', { scope: 'col', text: t('col.enabled') }),
        header('hits', t('col.hits'), 'num'),
        header('alerts', t('col.alerts'), 'num'),
        header('last_hour', t('col.last_hour'), 'num'),
        h('th', { scope: 'col', text: t('col.noisy') }),
        header('last_hit', t('col.last_hit')))),
      h('tbody', {}, rows.map((r) => {
        const s = r.stats || {};
        return h('tr', { class: `rule-row${r.enabled === false ? ' is-disabled' : ''}`, dataset: { id: r.id } },
          h('td', {},
            h('a', { href: `#/rules/${encodeURIComponent(r.id)}`, class: 'rule-link', text: r.title || r.id }),
            r.source === 'imported' ? h('span', { class: 'badge imported', title: t('rules.imported_title'), text: t('rules.imported') }) : null,
            h('span', { class: 'muted small rule-sub', text: [r.kind && r.kind !== 'detection' ? (has(`alerts.kind_${r.kind}`) ? t(`alerts.kind_${r.kind}`) : r.kind) : null, r.status].filter(Boolean).join(' · ') })),
          h('td', {}, levelBadge(r.level)),
          h('td', {}, ruleToggle(ctx, r, (on) => { r.enabled = on; })),
          h('td', { class: 'num', text: fmtNumber(s.hits || 0) }),
          h('td', { class: 'num' }, s.alerts ? h('a', { href: `#/alerts?${new URLSearchParams({ rule: r.id, status: 'all' })}`, text: fmtNumber(s.alerts) }) : '0'),
          h('td', { class: 'num', text: fmtNumber(s.last_hour || 0) }),
          h('td', {}, s.noisy ? h('span', { class: 'badge noisy', title: t('rules.noisy_title'), text: t('rules.noisy') }) : null),
          h('td', {}, s.last_hit ? timeEl(s.last_hit) : h('span', { class: 'muted', text: t('rules.never') })));
      }))));
  }

  async function load() {
    ctx.setParams(params());
    if (reqCtl) reqCtl.abort();
    reqCtl = new AbortController();
    const signal = AbortSignal.any ? AbortSignal.any([ctx.signal, reqCtl.signal]) : reqCtl.signal;
    if (!list.length) replace(tableBox, loading());
    try {
      const res = await api.get('/api/v1/rules', { q: qIn.value.trim() || undefined, noisy: noisy.checked ? 'true' : undefined, enabled: enabled.value || undefined }, { signal });
      if (!alive) return;
      list = res.rules || [];
      summary.textContent = [
        tn('rules.count', list.length),
        res.noisy !== undefined ? tn('rules.noisy_count', res.noisy) : null,
        res.budget_per_hour !== undefined ? t('rules.budget', { n: fmtNumber(res.budget_per_hour) }) : null,
      ].filter(Boolean).join(' · ');
      render();
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(tableBox, e.code === 'detection_disabled' ? empty(t('rules.detection_disabled')) : errorState(e, load));
    }
  }

  qIn.addEventListener('input', debounce(load, 300));
  noisy.addEventListener('change', load);
  enabled.addEventListener('change', load);
  load();

  return {
    unmount() {
      alive = false;
      if (reqCtl) reqCtl.abort();
    },
  };
}

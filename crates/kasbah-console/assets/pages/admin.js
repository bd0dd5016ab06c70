// pages/admin.js — Administration (#/admin, admin role only): users of the tenant (create, change
// role, remove, reset password; one-time passwords shown once), API tokens (create with scopes and
// expiry, shown once; revoke after confirmation), tenant retention, the audit trail (filter,
// older pages) and the server health report; for global administrators, every tenant (create,
// join as administrator, switch to).

import { t, tn, has } from '../i18n.js';
import { api, seg, isAbort, isMissing } from '../api.js';
import { h, replace, fmtNumber, fmtBytes, timeEl, valueText, copyText, parseTime } from '../util.js';
import { loading, empty, errorState, confirmDialog, toast, toastError } from '../ui.js';
import { renderHealthFull } from './health.js';

const ROLES = ['viewer', 'analyst', 'admin'];
const SCOPES = ['ingest', 'read', 'write', 'admin'];
const SECTIONS = ['users', 'tokens', 'tenant', 'audit', 'health'];

/** The page shown to non-administrators who open #/admin. */
export function forbidden(root) {
  replace(root, h('section', { id: 'page-admin', class: 'page', 'aria-labelledby': 'admin-title' },
    h('h1', { id: 'admin-title', text: t('admin.title') }),
    empty(t('admin.forbidden'))));
  return {};
}

function unavailable(e) {
  return isMissing(e) ? empty(t('admin.unavailable')) : null;
}

/** A one-time secret, shown once with a copy button and a warning. */
function secretBox(container, { id, title, secret, warning }) {
  const value = h('input', { id: `${id}-value`, class: 'input code secret-value', readOnly: true, 'aria-label': title });
  value.value = secret;
  const copy = h('button', { type: 'button', id: `${id}-copy`, class: 'btn btn-primary', text: t('action.copy') });
  const done = h('button', { type: 'button', id: `${id}-dismiss`, class: 'btn', text: t('admin.secret_saved') });
  const box = h('div', { class: 'secret-box', id, role: 'status' },
    h('h3', { class: 'subhead', text: title }),
    h('p', { class: 'secret-warning', text: warning }),
    h('div', { class: 'secret-row' }, value, copy, done));
  copy.addEventListener('click', async () => {
    value.select();
    const ok = await copyText(secret);
    toast(ok ? t('state.copied') : t('error.copy_failed'), { kind: ok ? 'success' : 'error' });
  });
  done.addEventListener('click', () => {
    box.remove();
  });
  replace(container, box);
  value.focus();
  value.select();
}

function section(id, title, body, actions) {
  return h('section', { id, class: 'card admin-section', 'aria-labelledby': `${id}-heading` },
    h('div', { class: 'card-head' }, h('h2', { id: `${id}-heading`, class: 'card-title', text: title }), actions || null),
    h('div', { class: 'card-body' }, body));
}

export function mount(root, ctx) {
  let alive = true;
  const sig = { signal: ctx.signal };

  // ------------------------------------------------------------ users
  const usersBox = h('div', { id: 'users-box' }, loading());
  const userSecret = h('div', { id: 'user-secret-slot' });
  const newName = h('input', { id: 'user-new-name', class: 'input', autocomplete: 'off', required: true, maxlength: '64', spellcheck: 'false' });
  const newRole = h('select', { id: 'user-new-role', class: 'select' }, ROLES.map((r) => h('option', { value: r, selected: r === 'analyst', text: t(`role.${r}`) })));
  const createUser = h('button', { id: 'user-create', type: 'submit', class: 'btn btn-primary', text: t('admin.user_create') });
  const userForm = h('form', { id: 'user-form', class: 'inline-form' },
    h('label', { class: 'inline-field' }, h('span', { text: t('admin.user_name') }), newName),
    h('label', { class: 'inline-field' }, h('span', { text: t('admin.user_role') }), newRole),
    createUser);

  async function loadUsers() {
    try {
      const res = await api.get('/api/v1/users', null, sig);
      if (!alive) return;
      const users = res.users || [];
      if (!users.length) {
        replace(usersBox, empty(t('admin.users_none')));
        return;
      }
      replace(usersBox, h('div', { class: 'table-scroll' }, h('table', { id: 'users-table', class: 'table' },
        h('caption', { class: 'visually-hidden', text: t('admin.users') }),
        h('thead', {}, h('tr', {},
          [t('admin.user_name'), t('admin.user_role'), t('admin.user_must_change'), t('admin.user_totp'), t('admin.user_locked'), t('admin.user_failed'), t('admin.actions')]
            .map((l) => h('th', { scope: 'col', text: l })))),
        h('tbody', {}, users.map((u) => userRow(u))))));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(usersBox, unavailable(e) || errorState(e, loadUsers));
    }
  }

  function userRow(u) {
    const self = u.name === ctx.session.user;
    const sel = h('select', { class: 'select user-role', 'aria-label': t('admin.user_role_of', { name: u.name }) },
      ROLES.map((r) => h('option', { value: r, selected: u.role === r, text: t(`role.${r}`) })),
      h('option', { value: '', text: t('admin.user_remove') }));
    sel.addEventListener('change', async () => {
      const role = sel.value || null;
      const ok = await confirmDialog({
        title: role ? t('admin.role_change_title') : t('admin.user_remove_title'),
        message: role ? t('admin.role_change_confirm', { name: u.name, role: t(`role.${role}`) }) : t('admin.user_remove_confirm', { name: u.name, tenant: ctx.session.tenant }),
        confirm: role ? t('admin.role_change') : t('admin.user_remove'),
        danger: !role || self,
      });
      if (!ok) {
        sel.value = u.role || '';
        return;
      }
      try {
        await api.put(`/api/v1/users/${seg(u.id)}/role`, { role });
        toast(role ? t('admin.role_changed', { name: u.name, role: t(`role.${role}`) }) : t('admin.user_removed', { name: u.name }), { kind: 'success' });
        loadUsers();
        loadAudit(false);
      } catch (e) {
        sel.value = u.role || '';
        toastError(e);
      }
    });
    const reset = h('button', { type: 'button', class: 'btn btn-small user-reset', text: t('admin.user_reset') });
    reset.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: t('admin.user_reset_title'), message: t('admin.user_reset_confirm', { name: u.name }), confirm: t('admin.user_reset') });
      if (!ok) return;
      try {
        const res = await api.post(`/api/v1/users/${seg(u.id)}/reset`);
        secretBox(userSecret, { id: 'user-secret', title: t('admin.onetime_for', { name: res.user || u.name }), secret: res.password, warning: t('admin.onetime_warning') });
        loadUsers();
        loadAudit(false);
      } catch (e) {
        toastError(e);
      }
    });
    const locked = u.locked_until && parseTime(u.locked_until) && parseTime(u.locked_until) > new Date();
    return h('tr', { class: 'user-row', dataset: { id: String(u.id) } },
      h('td', {}, h('span', { text: u.name }), self ? h('span', { class: 'muted small', text: ` ${t('admin.you')}` }) : null),
      h('td', {}, sel),
      h('td', {}, u.must_change_password ? h('span', { class: 'badge warn', text: t('state.yes') }) : t('state.no')),
      h('td', {}, u.totp === undefined ? '—' : (u.totp ? h('span', { class: 'badge ok', text: t('admin.totp_on') }) : t('admin.totp_off'))),
      h('td', {}, locked ? timeEl(u.locked_until) : '—'),
      h('td', { class: 'num', text: fmtNumber(u.failed_logins || 0) }),
      h('td', {}, reset));
  }

  userForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const username = newName.value.trim();
    if (!username) {
      newName.focus();
      return;
    }
    createUser.disabled = true;
    try {
      const res = await api.post('/api/v1/users', { username, role: newRole.value });
      newName.value = '';
      const name = (res.user && res.user.name) || username;
      secretBox(userSecret, { id: 'user-secret', title: t('admin.onetime_for', { name }), secret: res.password, warning: t('admin.onetime_warning') });
      toast(t('admin.user_created', { name }), { kind: 'success' });
      loadUsers();
      loadAudit(false);
    } catch (e) {
      toastError(e);
    } finally {
      createUser.disabled = false;
    }
  });

  // ------------------------------------------------------------ tokens
  const tokensBox = h('div', { id: 'tokens-box' }, loading());
  const tokenSecret = h('div', { id: 'token-secret-slot' });
  const tokLabel = h('input', { id: 'token-label', class: 'input', autocomplete: 'off', required: true, maxlength: '200' });
  const tokScopes = SCOPES.map((s) => h('label', { class: 'inline-field checkbox' },
    h('input', { type: 'checkbox', class: 'token-scope', value: s, checked: s === 'ingest' || s === 'read' }), h('span', { text: t(`scope.${s}`) })));
  const tokExpires = h('input', { id: 'token-expires', class: 'input input-num', type: 'number', min: '1', max: '3650', step: '1', placeholder: t('admin.token_never') });
  const createTok = h('button', { id: 'token-create', type: 'submit', class: 'btn btn-primary', text: t('admin.token_create') });
  const tokForm = h('form', { id: 'token-form', class: 'inline-form' },
    h('label', { class: 'inline-field' }, h('span', { text: t('admin.token_label') }), tokLabel),
    h('fieldset', { class: 'scopes' }, h('legend', { text: t('admin.token_scopes') }), tokScopes),
    h('label', { class: 'inline-field' }, h('span', { text: t('admin.token_expires') }), tokExpires),
    createTok);

  function tokenStatus(tk) {
    if (tk.revoked_at) return h('span', { class: 'badge status-closed', text: t('admin.token_revoked') });
    const exp = parseTime(tk.expires_at);
    if (exp && exp < new Date()) return h('span', { class: 'badge warn', text: t('admin.token_expired') });
    return h('span', { class: 'badge ok', text: t('admin.token_active') });
  }

  async function loadTokens() {
    try {
      const res = await api.get('/api/v1/tokens', null, sig);
      if (!alive) return;
      const list = res.tokens || [];
      if (!list.length) {
        replace(tokensBox, empty(t('admin.tokens_none')));
        return;
      }
      replace(tokensBox, h('div', { class: 'table-scroll' }, h('table', { id: 'tokens-table', class: 'table' },
        h('caption', { class: 'visually-hidden', text: t('admin.tokens') }),
        h('thead', {}, h('tr', {},
          [t('admin.token_label'), t('admin.token_scopes'), t('admin.token_created'), t('admin.token_expires_at'), t('col.status'), t('admin.actions')]
            .map((l) => h('th', { scope: 'col', text: l })))),
        h('tbody', {}, list.map((tk) => {
          const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger token-revoke', disabled: Boolean(tk.revoked_at), text: t('admin.token_revoke') });
          revoke.addEventListener('click', async () => {
            const ok = await confirmDialog({ title: t('admin.token_revoke_title'), message: t('admin.token_revoke_confirm', { label: tk.label || `#${tk.id}` }), confirm: t('admin.token_revoke') });
            if (!ok) return;
            try {
              await api.del(`/api/v1/tokens/${seg(tk.id)}`);
              toast(t('admin.token_revoked_done', { label: tk.label || `#${tk.id}` }), { kind: 'success' });
              loadTokens();
              loadAudit(false);
            } catch (e) {
              toastError(e);
            }
          });
          return h('tr', { class: `token-row${tk.revoked_at ? ' is-disabled' : ''}`, dataset: { id: String(tk.id) } },
            h('td', {}, h('span', { text: tk.label || '—' }), h('span', { class: 'muted small', text: ` #${tk.id}` })),
            h('td', {}, h('span', { class: 'chips' }, (tk.scopes || []).map((s) => h('span', { class: 'chip', text: has(`scope.${s}`) ? t(`scope.${s}`) : s })))),
            h('td', {}, timeEl(tk.created_at)),
            h('td', {}, tk.expires_at ? timeEl(tk.expires_at) : h('span', { class: 'muted', text: t('admin.token_never') })),
            h('td', {}, tokenStatus(tk), tk.revoked_at ? h('span', { class: 'muted small' }, ' ', timeEl(tk.revoked_at)) : null),
            h('td', {}, revoke));
        })))));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(tokensBox, unavailable(e) || errorState(e, loadTokens));
    }
  }

  tokForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const label = tokLabel.value.trim();
    const scopes = [...tokForm.querySelectorAll('input.token-scope:checked')].map((c) => c.value);
    if (!label) { tokLabel.focus(); return; }
    if (!scopes.length) { toast(t('admin.token_need_scope'), { kind: 'error' }); return; }
    const body = { label, scopes };
    if (tokExpires.value) {
      const days = Number(tokExpires.value);
      if (!Number.isInteger(days) || days < 1) { toast(t('admin.token_bad_expiry'), { kind: 'error' }); tokExpires.focus(); return; }
      body.expires_in_days = days;
    }
    createTok.disabled = true;
    try {
      const res = await api.post('/api/v1/tokens', body);
      tokLabel.value = '';
      secretBox(tokenSecret, { id: 'token-secret', title: t('admin.token_new', { label }), secret: res.token, warning: t('admin.token_warning') });
      loadTokens();
      loadAudit(false);
    } catch (e) {
      toastError(e);
    } finally {
      createTok.disabled = false;
    }
  });

  // ------------------------------------------------------------ tenant
  const tenantBox = h('div', { id: 'tenant-box' }, loading());
  async function loadTenant() {
    try {
      const tn0 = await api.get('/api/v1/tenant', null, sig);
      if (!alive) return;
      const days = h('input', { id: 'tenant-retention-days', class: 'input input-num', type: 'number', min: '1', step: '1', placeholder: t('admin.retention_default') });
      const bytes = h('input', { id: 'tenant-retention-bytes', class: 'input input-num', type: 'number', min: '1', step: '1', placeholder: t('admin.retention_unlimited') });
      days.value = tn0.retention_days ?? '';
      bytes.value = tn0.retention_bytes ?? '';
      const bytesHint = h('span', { class: 'field-hint', id: 'tenant-bytes-hint' });
      const paintHint = () => { bytesHint.textContent = bytes.value ? fmtBytes(Number(bytes.value)) : t('admin.retention_unlimited'); };
      paintHint();
      bytes.addEventListener('input', paintHint);
      const hasTotp = typeof tn0.require_totp === 'boolean';
      const totp = h('input', { id: 'tenant-require-totp', type: 'checkbox', checked: Boolean(tn0.require_totp) });
      const save = h('button', { id: 'tenant-save', type: 'submit', class: 'btn btn-primary', text: t('action.save') });
      const form = h('form', { id: 'tenant-form', class: 'stack-form' },
        h('p', {}, h('strong', { text: `${t('admin.tenant_name')}: ` }), h('span', { id: 'tenant-name', text: tn0.name })),
        h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('admin.retention_days') }), days, h('span', { class: 'field-hint', text: t('admin.retention_days_hint') })),
        h('label', { class: 'field' }, h('span', { class: 'field-label', text: t('admin.retention_bytes') }), bytes, bytesHint),
        hasTotp ? h('div', { class: 'field' },
          h('label', { class: 'inline-field checkbox' }, totp, h('span', { text: t('admin.require_totp') })),
          h('p', { class: 'field-hint', text: t('admin.require_totp_hint') })) : null,
        h('div', { class: 'form-actions' }, save));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const d = days.value === '' ? null : Number(days.value);
        const b = bytes.value === '' ? null : Number(bytes.value);
        if ((d !== null && (!Number.isInteger(d) || d < 1)) || (b !== null && (!Number.isInteger(b) || b < 1))) {
          toast(t('admin.retention_invalid'), { kind: 'error' });
          return;
        }
        const retentionChanged = d !== (tn0.retention_days ?? null) || b !== (tn0.retention_bytes ?? null);
        if (retentionChanged) {
          const ok = await confirmDialog({ title: t('admin.retention_confirm_title'), message: t('admin.retention_confirm'), confirm: t('action.save') });
          if (!ok) return;
        }
        const body = { retention_days: d, retention_bytes: b };
        if (hasTotp) body.require_totp = totp.checked;
        save.disabled = true;
        try {
          await api.put('/api/v1/tenant', body);
          toast(t('admin.tenant_saved'), { kind: 'success' });
          loadTenant();
          loadAudit(false);
        } catch (e) {
          toastError(e);
        } finally {
          save.disabled = false;
        }
      });
      replace(tenantBox, form);
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(tenantBox, unavailable(e) || errorState(e, loadTenant));
    }
  }

  // ------------------------------------------------------------ audit
  const auditFilter = h('input', { id: 'audit-filter', type: 'search', class: 'input', placeholder: t('admin.audit_filter'), 'aria-label': t('admin.audit_filter') });
  const auditBox = h('div', { id: 'audit-box' }, loading());
  const auditOlder = h('button', { id: 'audit-older', type: 'button', class: 'btn', hidden: true, text: t('admin.audit_older') });
  const auditRefresh = h('button', { id: 'audit-refresh', type: 'button', class: 'btn btn-small', text: t('action.refresh') });
  const auditCount = h('p', { class: 'muted small', 'aria-live': 'polite' });
  let audit = [];
  let auditTbody = null;

  function auditRow(e) {
    return h('tr', { class: 'audit-row', dataset: { id: String(e.id) } },
      h('td', { class: 'num', text: String(e.id) }),
      h('td', { class: 'nowrap' }, timeEl(e.at)),
      h('td', { text: e.actor ?? '' }),
      h('td', {}, h('code', { text: e.action ?? '' })),
      h('td', { text: e.target ?? '' }),
      h('td', { class: 'detail-cell', text: e.detail === null || e.detail === undefined ? '' : valueText(e.detail) }),
      h('td', {}, e.hash ? h('code', { class: 'hash', title: String(e.hash), text: String(e.hash).slice(0, 12) }) : ''));
  }
  function renderAudit() {
    // The server filters (`q`), so the whole trail is searched, not just the pages loaded.
    const needle = auditFilter.value.trim();
    const shown = audit;
    auditCount.textContent = tn('admin.audit_loaded', audit.length);
    if (!auditTbody) {
      auditTbody = h('tbody', {});
      replace(auditBox, h('div', { class: 'table-scroll' }, h('table', { id: 'audit-table', class: 'table audit-table' },
        h('caption', { class: 'visually-hidden', text: t('admin.audit') }),
        h('thead', {}, h('tr', {}, [t('admin.audit_id'), t('admin.audit_at'), t('admin.audit_actor'), t('admin.audit_action'), t('admin.audit_target'), t('admin.audit_detail'), t('admin.audit_hash')]
          .map((l, i) => h('th', { scope: 'col', class: i === 0 ? 'num' : '', text: l })))),
        auditTbody)));
    }
    auditTbody.replaceChildren(...(shown.length ? shown.map(auditRow) : [h('tr', {}, h('td', { colspan: '7', class: 'muted', text: needle ? t('admin.audit_no_match') : t('admin.audit_none') }))]));
  }
  async function loadAudit(older) {
    try {
      const before = older && audit.length ? audit[audit.length - 1].id : undefined;
      auditOlder.disabled = true;
      const q = auditFilter.value.trim() || undefined;
      const res = await api.get('/api/v1/audit', { limit: 100, before, q }, sig);
      if (!alive) return;
      const entries = res.entries || [];
      audit = older ? audit.concat(entries) : entries;
      auditOlder.hidden = entries.length < 100;
      renderAudit();
    } catch (e) {
      if (isAbort(e) || !alive) return;
      if (older) toastError(e);
      else {
        auditTbody = null;
        replace(auditBox, unavailable(e) || errorState(e, () => loadAudit(false)));
      }
    } finally {
      auditOlder.disabled = false;
    }
  }
  let auditTimer = null;
  auditFilter.addEventListener('input', () => {
    clearTimeout(auditTimer);
    auditTimer = setTimeout(() => loadAudit(false), 300);
  });
  auditOlder.addEventListener('click', () => loadAudit(true));
  auditRefresh.addEventListener('click', () => loadAudit(false));

  // ------------------------------------------------------------ health
  const healthBox = h('div', { id: 'health-box' }, loading());
  const healthRefresh = h('button', { id: 'health-refresh', type: 'button', class: 'btn btn-small', text: t('action.refresh') });
  async function loadHealth() {
    try {
      const hl = await api.get('/api/v1/health', null, sig);
      if (alive) replace(healthBox, renderHealthFull(hl));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(healthBox, errorState(e, loadHealth));
    }
  }
  healthRefresh.addEventListener('click', loadHealth);

  // ------------------------------------------------------------ tenants (global administrators)
  const global = Boolean(ctx.session.global_admin);
  const tenantsBox = h('div', { id: 'tenants-box' }, global ? loading() : null);
  const tenantName = h('input', { id: 'tenant-new-name', class: 'input', autocomplete: 'off', required: true, maxlength: '64', spellcheck: 'false' });
  const tenantCreate = h('button', { id: 'tenant-create', type: 'submit', class: 'btn btn-primary', text: t('admin.tenant_create') });
  const tenantForm = h('form', { id: 'tenant-form', class: 'inline-form' },
    h('label', { class: 'inline-field' }, h('span', { text: t('admin.tenant_name') }), tenantName),
    tenantCreate);
  async function openTenant(name) {
    try {
      await api.post('/api/v1/auth/tenant', { tenant: name });
      await ctx.refreshSession();
      toast(t('tenant.switched', { name }), { kind: 'success' });
      ctx.navigate('#/overview');
    } catch (e) {
      toastError(e);
    }
  }
  async function loadTenants() {
    if (!global) return;
    try {
      const res = await api.get('/api/v1/tenants', null, sig);
      if (!alive) return;
      replace(tenantsBox, h('div', { class: 'table-scroll' }, h('table', { id: 'tenants-table', class: 'table' },
        h('caption', { class: 'visually-hidden', text: t('admin.tenants') }),
        h('thead', {}, h('tr', {}, [t('admin.tenant_name'), t('admin.tenant_events'), t('admin.tenant_your_role'), t('admin.tenant_totp'), t('admin.actions')]
          .map((l) => h('th', { scope: 'col', text: l })))),
        h('tbody', {}, (res.tenants || []).map((tn_) => {
          let action;
          if (tn_.role) {
            action = h('button', { type: 'button', class: 'btn btn-small tenant-open', disabled: tn_.name === ctx.session.tenant, text: t('admin.tenant_open') });
            action.addEventListener('click', () => openTenant(tn_.name));
          } else {
            action = h('button', { type: 'button', class: 'btn btn-small tenant-join', text: t('admin.tenant_join') });
            action.addEventListener('click', async () => {
              const ok = await confirmDialog({ title: t('admin.tenant_join_title'), message: t('admin.tenant_join_confirm', { name: tn_.name }), confirm: t('admin.tenant_join'), danger: false });
              if (!ok) return;
              try {
                await api.post(`/api/v1/tenants/${seg(tn_.id)}/join`);
                toast(t('admin.tenant_joined', { name: tn_.name }), { kind: 'success' });
                await ctx.refreshSession();
                loadTenants();
              } catch (e) {
                toastError(e);
              }
            });
          }
          return h('tr', { class: 'tenant-row', dataset: { name: tn_.name } },
            h('td', {}, h('code', { text: tn_.name })),
            h('td', { class: 'num', text: tn_.events === null || tn_.events === undefined ? '—' : fmtNumber(tn_.events) }),
            h('td', { text: tn_.role ? t(`role.${tn_.role}`) : '—' }),
            h('td', { text: tn_.require_totp ? t('state.yes') : t('state.no') }),
            h('td', {}, action));
        })))));
    } catch (e) {
      if (isAbort(e) || !alive) return;
      replace(tenantsBox, unavailable(e) || errorState(e, loadTenants));
    }
  }
  tenantForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = tenantName.value.trim();
    if (!name) return;
    tenantCreate.disabled = true;
    try {
      await api.post('/api/v1/tenants', { name });
      toast(t('admin.tenant_created', { name }), { kind: 'success' });
      tenantName.value = '';
      await ctx.refreshSession();
      loadTenants();
      loadAudit(false);
    } catch (e) {
      toastError(e);
    } finally {
      tenantCreate.disabled = false;
    }
  });

  // ------------------------------------------------------------ page
  const jump = h('nav', { class: 'subnav', 'aria-label': t('admin.sections') },
    h('ul', {}, SECTIONS.concat(global ? ['tenants'] : []).map((s) => h('li', {}, h('button', {
      type: 'button', class: 'subnav-link', text: t(`admin.${s}`),
      onclick: () => {
        const el = document.getElementById(`admin-${s}`);
        if (el) {
          el.scrollIntoView({ behavior: 'smooth', block: 'start' });
          const head = el.querySelector('h2');
          if (head) { head.setAttribute('tabindex', '-1'); head.focus({ preventScroll: true }); }
        }
      },
    })))));

  replace(root, h('section', { id: 'page-admin', class: 'page', 'aria-labelledby': 'admin-title' },
    h('div', { class: 'page-head' },
      h('h1', { id: 'admin-title', text: t('admin.title') }),
      h('p', { class: 'muted', text: t('admin.tenant_scope', { tenant: ctx.session.tenant }) })),
    jump,
    section('admin-users', t('admin.users'), [h('p', { class: 'muted small', text: t('admin.users_hint') }), userForm, userSecret, usersBox]),
    section('admin-tokens', t('admin.tokens'), [h('p', { class: 'muted small', text: t('admin.tokens_hint') }), tokForm, tokenSecret, tokensBox]),
    section('admin-tenant', t('admin.tenant'), tenantBox),
    section('admin-audit', t('admin.audit'), [h('div', { class: 'toolbar' }, auditFilter), auditCount, auditBox, auditOlder], auditRefresh),
    section('admin-health', t('admin.health'), healthBox, healthRefresh),
    global ? section('admin-tenants', t('admin.tenants'), [h('p', { class: 'muted small', text: t('admin.tenants_hint') }), tenantForm, tenantsBox]) : null));

  loadUsers();
  loadTokens();
  loadTenant();
  loadAudit(false);
  loadHealth();
  loadTenants();

  return { unmount() { alive = false; } };
}


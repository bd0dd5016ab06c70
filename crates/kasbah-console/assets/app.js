// app.js — The console's entry point: loads the language, checks the session
// (GET /api/v1/auth/me), shows the login or forced password change, draws the header (navigation,
// tenant switcher, user, logout) and runs the hash router that mounts one page at a time. Each
// page module exports `mount(root, ctx)` returning `{unmount?, update?}`; ctx.signal aborts the
// page's requests when it is left.

import { initI18n, t } from './i18n.js';
import { api, setCsrf, onSessionLost, onPasswordRequired, isAbort, isMissing } from './api.js';
import { h, replace } from './util.js';
import { toast, toastError } from './ui.js';
import { renderLogin, renderPassword, renderTotpSetup, renderTotpDisable } from './pages/login.js';
import * as overview from './pages/overview.js';
import * as search from './pages/search.js';
import * as alerts from './pages/alerts.js';
import * as alert from './pages/alert.js';
import * as rules from './pages/rules.js';
import * as rule from './pages/rule.js';
import * as admin from './pages/admin.js';
import * as suppressions from './pages/suppressions.js';
import * as upload from './pages/upload.js';

const NAV = [
  { name: 'overview', href: '#/overview', label: 'nav.overview' },
  { name: 'search', href: '#/search', label: 'nav.search' },
  { name: 'alerts', href: '#/alerts', label: 'nav.alerts' },
  { name: 'rules', href: '#/rules', label: 'nav.rules' },
  { name: 'upload', href: '#/upload', label: 'nav.upload', write: true },
  { name: 'admin', href: '#/admin', label: 'nav.admin', admin: true },
];

const state = {
  session: null,
  current: null, // {key, section, instance, controller}
};

const main = () => document.getElementById('main');
const header = () => document.getElementById('app-header');

// ---------------------------------------------------------------- session

function setSession(s) {
  state.session = s;
  setCsrf(s && s.csrf_token);
}

function ctxFlags(s) {
  return {
    canWrite: s.role === 'analyst' || s.role === 'admin',
    isAdmin: s.role === 'admin',
  };
}

function teardown() {
  if (state.current) {
    state.current.controller.abort();
    try {
      if (state.current.instance && state.current.instance.unmount) state.current.instance.unmount();
    } catch (e) {
      console.error(e);
    }
    state.current = null;
  }
  document.querySelectorAll('dialog').forEach((d) => d.remove());
}

function showLogin(notice) {
  teardown();
  setSession(null);
  header().hidden = true;
  document.title = `${t('login.title')} — ${t('app.name')}`;
  renderLogin(main(), { onSuccess: enter, notice });
}

function showForcedPassword() {
  teardown();
  header().hidden = true;
  document.title = `${t('password.title_forced')} — ${t('app.name')}`;
  renderPassword(main(), { forced: true, session: state.session, onSuccess: enter, onLogout: logout });
}

function showForcedTotp() {
  teardown();
  header().hidden = true;
  document.title = `${t('totp.title')} — ${t('app.name')}`;
  renderTotpSetup(main(), { forced: true, session: state.session, onSuccess: enter, onLogout: logout });
}

function enter(s) {
  setSession(s);
  if (s.must_change_password) {
    showForcedPassword();
    return;
  }
  if (s.totp_enrollment_required) {
    showForcedTotp();
    return;
  }
  renderHeader();
  header().hidden = false;
  route(true);
}

async function logout() {
  try {
    await api.post('/api/v1/auth/logout');
  } catch (e) {
    if (!isAbort(e) && e.status !== 401) toastError(e);
  }
  showLogin(t('login.logged_out'));
}

async function switchTenant(select) {
  const name = select.value;
  const previous = state.session.tenant;
  select.disabled = true;
  try {
    const s = await api.post('/api/v1/auth/tenant', { tenant: name });
    setSession(s);
    renderHeader();
    toast(t('tenant.switched', { name: s.tenant }), { kind: 'success' });
    // An alert id belongs to one tenant: after a switch, its page would only say "not found".
    if (/^#\/alerts\/./.test(location.hash)) navigate('#/alerts');
    else route(true);
  } catch (e) {
    select.value = previous;
    if (isMissing(e)) toast(t('tenant.switch_unavailable'), { kind: 'error', code: e.code });
    else toastError(e);
  } finally {
    select.disabled = false;
  }
}

// ---------------------------------------------------------------- header

function renderHeader() {
  const s = state.session;
  const flags = ctxFlags(s);
  const tenants = Array.isArray(s.tenants) && s.tenants.length ? s.tenants : [{ name: s.tenant, role: s.role }];
  const select = h('select', { id: 'tenant-switch', class: 'select', 'aria-label': t('header.tenant') },
    tenants.map((tn) => h('option', { value: tn.name, selected: tn.name === s.tenant, text: tn.role ? t('header.tenant_option', { name: tn.name, role: t(`role.${tn.role}`) }) : tn.name })));
  select.addEventListener('change', () => switchTenant(select));
  if (tenants.length < 2) select.title = t('header.tenant_single');

  const skip = h('button', { type: 'button', class: 'skip-link', text: t('header.skip') });
  skip.addEventListener('click', () => {
    const m = main();
    const target = m.querySelector('h1') || m;
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  });

  replace(header(),
    skip,
    h('a', { href: '#/overview', class: 'brand', 'aria-label': t('header.home') },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true', text: '◆' }), h('span', { text: t('app.name') })),
    h('nav', { class: 'mainnav', 'aria-label': t('header.nav') },
      h('ul', {}, NAV.filter((n) => (!n.admin || flags.isAdmin) && (!n.write || flags.canWrite)).map((n) => h('li', {},
        h('a', { href: n.href, id: `nav-${n.name}`, dataset: { section: n.name }, text: t(n.label) }))))),
    h('div', { class: 'topbar-tools' },
      h('label', { class: 'tenant-label' }, h('span', { class: 'muted small', text: t('header.tenant') }), select),
      h('span', { id: 'user-info', class: 'user-info' },
        h('span', { class: 'user-name', text: s.user }),
        h('span', { class: `badge role role-${s.role}`, text: t(`role.${s.role}`) })),
      h('a', { href: '#/account', id: 'nav-account', class: 'btn btn-ghost btn-small', text: t('header.account') }),
      h('button', { type: 'button', id: 'logout', class: 'btn btn-small', text: t('header.logout'), onclick: logout })));
}

function markNav(section) {
  for (const a of header().querySelectorAll('.mainnav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- router

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const qs = q >= 0 ? raw.slice(q + 1) : '';
  const parts = path.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch (_) { return p; }
  });
  return { parts, params: new URLSearchParams(qs) };
}

function resolve(parts) {
  const [a, b] = parts;
  switch (a) {
    case 'overview': return { section: 'overview', page: overview };
    case 'search': return { section: 'search', page: search };
    case 'alerts': return b ? { section: 'alerts', page: alert, id: b } : { section: 'alerts', page: alerts };
    case 'rules': return b ? { section: 'rules', page: rule, id: b } : { section: 'rules', page: rules };
    case 'suppressions': return { section: 'suppressions', page: suppressions };
    case 'upload': return { section: 'upload', page: upload };
    case 'admin': return { section: 'admin', page: admin };
    case 'account': return { section: 'account', page: null, account: true };
    default: return { section: null, page: null };
  }
}

/** Replaces the query part of the current hash without adding a history entry. */
function setParams(params) {
  const { parts } = parseHash();
  const qs = params.toString();
  const hash = `#/${parts.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

function navigate(hash) {
  if (location.hash === hash) route(false);
  else location.hash = hash;
}

function mountAccount(root, ctx) {
  const pw = h('div', {});
  const second = h('div', { class: 'card narrow', id: 'account-totp' });
  replace(root, h('div', { class: 'page', id: 'page-account' }, pw, second));
  renderPassword(pw, {
    forced: false,
    session: ctx.session,
    onSuccess: (s) => {
      setSession(s);
      renderHeader();
      toast(t('password.changed'), { kind: 'success' });
      navigate('#/overview');
    },
  });
  const paintTotp = () => {
    const done = (msg) => (s) => {
      setSession(s);
      toast(msg, { kind: 'success' });
      paintTotp();
    };
    replace(second, state.session.totp
      ? renderTotpDisable({ onSuccess: done(t('totp.disabled')), user: state.session.user })
      : renderTotpSetup(null, { forced: false, session: state.session, onSuccess: done(t('totp.enabled')) }));
  };
  paintTotp();
  return {};
}

function notFound(root) {
  replace(root, h('section', { class: 'page', id: 'page-notfound' },
    h('h1', { text: t('notfound.title') }),
    h('p', {}, h('a', { href: '#/overview', text: t('notfound.back') }))));
  return {};
}

function route(force = false) {
  if (!state.session || state.session.must_change_password || state.session.totp_enrollment_required) return;
  const { parts, params } = parseHash();
  if (!parts.length) {
    history.replaceState(null, '', '#/overview');
    route(force);
    return;
  }
  const r = resolve(parts);
  const key = `${r.section}/${r.id || ''}`;
  const cur = state.current;
  if (!force && cur && cur.key === key) {
    if (cur.instance && cur.instance.update) cur.instance.update(params);
    return;
  }
  const hadPage = Boolean(cur);
  teardown();
  const controller = new AbortController();
  const flags = ctxFlags(state.session);
  const ctx = {
    session: state.session,
    ...flags,
    id: r.id,
    params,
    signal: controller.signal,
    navigate,
    setParams,
    // After a change to the user's tenants (a tenant created or joined), or a switch made by a page.
    async refreshSession() {
      setSession(await api.get('/api/v1/auth/me'));
      renderHeader();
    },
  };
  const root = main();
  root.replaceChildren();
  markNav(r.section);
  let instance;
  try {
    if (r.section === 'admin' && !flags.isAdmin) instance = admin.forbidden(root);
    else if (r.account) instance = mountAccount(root, ctx);
    else if (r.page) instance = r.page.mount(root, ctx);
    else instance = notFound(root);
  } catch (e) {
    console.error(e);
    toastError(e);
    instance = {};
  }
  state.current = { key, instance: instance || {}, controller };
  const h1 = root.querySelector('h1');
  document.title = `${h1 ? h1.textContent : t('app.name')} — ${t('app.name')}`;
  if (hadPage && h1 && !root.contains(document.activeElement)) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- boot

function bootError(e) {
  replace(main(), h('section', { class: 'auth-page' }, h('div', { class: 'auth-card' },
    h('p', { class: 'auth-brand', text: t('app.name') }),
    h('p', { class: 'form-error', role: 'alert', text: t('error.boot', { message: e && e.message ? e.message : '' }) }),
    h('button', { type: 'button', class: 'btn btn-primary', text: t('action.retry'), onclick: () => location.reload() }))));
}

async function boot() {
  await initI18n();
  document.title = t('app.name');
  onSessionLost(() => {
    if (state.session) showLogin(t('login.expired'));
  });
  onPasswordRequired((e) => {
    if (!state.session) return;
    if (e.code === 'totp_enrollment_required') {
      state.session.totp_enrollment_required = true;
      showForcedTotp();
    } else {
      state.session.must_change_password = true;
      showForcedPassword();
    }
  });
  window.addEventListener('unhandledrejection', (ev) => {
    ev.preventDefault();
    if (!isAbort(ev.reason)) toastError(ev.reason);
  });
  window.addEventListener('hashchange', () => route(false));
  // Pages that push history entries (search) come back through popstate; update() dedupes.
  window.addEventListener('popstate', () => route(false));
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target && ev.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (ev.target && ev.target.isContentEditable)) return;
    if (!state.session || document.querySelector('dialog[open]')) return;
    const q = document.getElementById('search-query');
    ev.preventDefault();
    if (q) q.focus();
    else navigate('#/search');
  });
  try {
    const me = await api.get('/api/v1/auth/me', null, { quiet401: true });
    enter(me);
  } catch (e) {
    if (e.status === 401) showLogin();
    else if (e.code === 'password_change_required' || e.code === 'totp_enrollment_required') showLogin();
    else bootError(e);
  }
}

boot().catch((e) => {
  console.error(e);
  bootError(e);
});

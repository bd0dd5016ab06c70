// pages/login.js — The sign-in form (POST /api/v1/auth/login) and the password change form
// (POST /api/v1/auth/password): forced after a one-time password, or from the account link.

import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { h, replace } from '../util.js';
import { toastError } from '../ui.js';

const MIN_PASSWORD = 12;

function field(id, label, input, hint) {
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: id, class: 'field-label', text: label }),
    input,
    hint ? h('p', { id: hintId, class: 'field-hint', text: hint }) : null);
}

function loginErrorText(e) {
  if (!(e instanceof ApiError)) return t('error.unexpected');
  if (e.code === 'invalid_credentials') return t('login.invalid');
  if (e.code === 'invalid_totp') return t('login.code_invalid');
  if (e.code === 'account_locked') return t('login.locked', { s: e.retryAfter || '900' });
  if (e.code === 'too_many_attempts') return t('login.too_many', { s: e.retryAfter || '60' });
  if (e.code === 'network') return t('error.network');
  return e.message;
}

/** The login page. `onSuccess(session)` receives the login answer. */
/**
 * The enrolment QR code, drawn from the server's rows of modules (`1` dark): black on white with
 * the quiet zone of four modules that scanners need, whatever the console's theme.
 */
function qrCanvas(rows) {
  const n = rows.length;
  const scale = 5;
  const quiet = 4;
  const size = (n + 2 * quiet) * scale;
  const canvas = h('canvas', { id: 'totp-qr', width: String(size), height: String(size), role: 'img', 'aria-label': t('totp.qr_label') });
  const g = canvas.getContext('2d');
  if (!g) return canvas;
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, size, size);
  g.fillStyle = '#000000';
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x += 1) {
      if (row[x] === '1') g.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
    }
  });
  return canvas;
}

export function renderLogin(root, { onSuccess, notice }) {
  const user = h('input', { id: 'login-username', name: 'username', type: 'text', class: 'input', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', class: 'input', autocomplete: 'current-password', required: true });
  const code = h('input', { id: 'login-code', name: 'code', type: 'text', class: 'input', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: '10', spellcheck: 'false' });
  const codeField = field('login-code', t('login.code'), code, t('login.code_hint'));
  codeField.hidden = true;
  const err = h('p', { id: 'login-error', class: 'form-error', hidden: true });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block', text: t('login.submit') });
  const form = h('form', { id: 'login-form', class: 'auth-form', 'aria-describedby': 'login-error', novalidate: true },
    field('login-username', t('login.username'), user),
    field('login-password', t('login.password'), pass),
    codeField,
    err,
    submit);
  const page = h('section', { id: 'page-login', class: 'auth-page', 'aria-labelledby': 'login-title' },
    h('div', { class: 'auth-card' },
      h('p', { class: 'auth-brand', text: t('app.name') }),
      h('h1', { id: 'login-title', text: t('login.title') }),
      notice ? h('p', { class: 'notice', role: 'status', text: notice }) : null,
      form));
  replace(root, page);
  user.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!user.value.trim() || !pass.value) {
      err.textContent = t('login.required');
      err.hidden = false;
      (user.value.trim() ? pass : user).focus();
      return;
    }
    if (!codeField.hidden && !code.value.trim()) {
      err.textContent = t('login.code_needed');
      err.hidden = false;
      code.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    const body = { username: user.value.trim(), password: pass.value };
    if (!codeField.hidden) body.code = code.value.replace(/\s+/g, '');
    try {
      const s = await api.post('/api/v1/auth/login', body, { quiet401: true });
      pass.value = '';
      code.value = '';
      onSuccess(s);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'totp_required') {
        // The password was right: ask for the second factor, keep the password for the retry.
        codeField.hidden = false;
        err.textContent = t('login.code_needed');
        err.hidden = false;
        code.focus();
        return;
      }
      // Shown in the form only: a toast would outlive the login.
      err.textContent = loginErrorText(e);
      err.hidden = false;
      if (e instanceof ApiError && e.code === 'invalid_totp') {
        code.value = '';
        code.focus();
      } else {
        pass.value = '';
        code.value = '';
        codeField.hidden = true;
        pass.focus();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = t('login.submit');
    }
  });
}

/**
 * The password change form. `forced`: the one-time password must be changed before anything
 * else (only this form and logout are shown). `onSuccess(session)` gets the new session.
 */
export function renderPassword(root, { forced, session, onSuccess, onLogout }) {
  const cur = h('input', { id: 'password-current', type: 'password', class: 'input', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'password-new', type: 'password', class: 'input', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSWORD) });
  const again = h('input', { id: 'password-confirm', type: 'password', class: 'input', autocomplete: 'new-password', required: true });
  const err = h('p', { id: 'password-error', class: 'form-error', hidden: true });
  const submit = h('button', { id: 'password-submit', type: 'submit', class: 'btn btn-primary', text: t('password.submit') });
  const form = h('form', { id: 'password-form', class: 'auth-form', 'aria-describedby': 'password-error', novalidate: true },
    // A hidden user name helps password managers file the new password under the right account.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: session ? session.user : '', hidden: true, readOnly: true }),
    field('password-current', forced ? t('password.current_onetime') : t('password.current'), cur),
    field('password-new', t('password.new'), next, t('password.rule', { n: MIN_PASSWORD })),
    field('password-confirm', t('password.confirm'), again),
    err,
    h('div', { class: 'form-actions' },
      submit,
      forced ? h('button', { type: 'button', class: 'btn', id: 'password-logout', text: t('header.logout'), onclick: onLogout }) : null));
  const page = h('section', { id: 'page-password', class: forced ? 'auth-page' : 'page', 'aria-labelledby': 'password-title' },
    h('div', { class: forced ? 'auth-card' : 'card narrow' },
      forced ? h('p', { class: 'auth-brand', text: t('app.name') }) : null,
      h('h1', { id: 'password-title', text: forced ? t('password.title_forced') : t('password.title') }),
      forced ? h('p', { class: 'notice', text: t('password.forced_explain', { user: session ? session.user : '' }) }) : null,
      form));
  replace(root, page);
  cur.focus();

  const fail = (msg, input) => {
    err.textContent = msg;
    err.hidden = false;
    if (input) input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!cur.value) return fail(t('password.need_current'), cur);
    if ([...next.value].length < MIN_PASSWORD) return fail(t('password.too_short', { n: MIN_PASSWORD }), next);
    if (next.value !== again.value) return fail(t('password.mismatch'), again);
    if (next.value === cur.value) return fail(t('password.same'), next);
    submit.disabled = true;
    try {
      const s = await api.post('/api/v1/auth/password', { current: cur.value, new: next.value });
      cur.value = '';
      next.value = '';
      again.value = '';
      onSuccess(s);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'invalid_credentials') fail(t('password.wrong_current'), cur);
      else fail(e instanceof ApiError ? e.message : t('error.unexpected'), null);
      toastError(e);
    } finally {
      submit.disabled = false;
    }
    return undefined;
  });
}

/** The secret in groups of four characters, easier to type into an authenticator app. */
function grouped(secret) {
  return String(secret).replace(/(.{4})/g, '$1 ').trim();
}

/**
 * Second factor (TOTP) enrolment: POST /api/v1/auth/totp/setup gives a secret (shown once, as
 * text: the console draws no QR code), then a code from the app proves it
 * (POST /api/v1/auth/totp/enable). `forced`: the tenant requires it before anything else.
 * `onSuccess(session)` receives the new session answer.
 */
export function renderTotpSetup(root, { forced, session, onSuccess, onLogout }) {
  const body = h('div', { id: 'totp-setup' });
  const start = h('button', { type: 'button', id: 'totp-start', class: 'btn btn-primary', text: t('totp.start') });
  const container = h('section', { id: 'page-totp', class: forced ? 'auth-page' : '', 'aria-labelledby': 'totp-title' },
    h('div', { class: forced ? 'auth-card auth-card-wide' : '' },
      forced ? h('p', { class: 'auth-brand', text: t('app.name') }) : null,
      h(forced ? 'h1' : 'h2', { id: 'totp-title', class: forced ? '' : 'card-title', text: t('totp.title') }),
      h('p', { class: forced ? 'notice' : 'muted small', text: forced ? t('totp.forced_explain', { user: session ? session.user : '' }) : t('totp.explain') }),
      body,
      forced ? h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'btn', id: 'totp-logout', text: t('header.logout'), onclick: onLogout })) : null));
  replace(body, start);
  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      const res = await api.post('/api/v1/auth/totp/setup');
      showSecret(res);
    } catch (e) {
      toastError(e);
      start.disabled = false;
    }
  });

  function showSecret(res) {
    const code = h('input', { id: 'totp-code', type: 'text', class: 'input', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: '10', required: true });
    const err = h('p', { class: 'form-error', id: 'totp-error', hidden: true });
    const enable = h('button', { type: 'submit', id: 'totp-enable', class: 'btn btn-primary', text: t('totp.enable') });
    const form = h('form', { id: 'totp-form', class: 'auth-form', novalidate: true },
      h('p', { class: 'secret-warning', text: t('totp.secret_once') }),
      Array.isArray(res.qr) && res.qr.length ? h('figure', { class: 'totp-qr' }, qrCanvas(res.qr), h('figcaption', { class: 'muted small', text: t('totp.qr_hint') })) : null,
      h('div', { class: 'field' }, h('span', { class: 'field-label', text: t('totp.secret') }), h('code', { id: 'totp-secret', class: 'code secret-code', text: grouped(res.secret) })),
      h('details', {}, h('summary', { text: t('totp.uri') }), h('code', { id: 'totp-uri', class: 'code wrap secret-code', text: res.uri })),
      field('totp-code', t('totp.code'), code, t('totp.code_hint')),
      err,
      h('div', { class: 'form-actions' }, enable));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      const c = code.value.replace(/\s+/g, '');
      if (!c) { code.focus(); return; }
      enable.disabled = true;
      try {
        const s = await api.post('/api/v1/auth/totp/enable', { code: c });
        onSuccess(s);
      } catch (e) {
        err.textContent = e instanceof ApiError && e.code === 'invalid_totp' ? t('totp.invalid') : (e.message || t('error.unexpected'));
        err.hidden = false;
        code.value = '';
        code.focus();
        toastError(e);
      } finally {
        enable.disabled = false;
      }
    });
    replace(body, form);
    code.focus();
  }
  if (forced) replace(root, container);
  return container;
}

/** Disabling the second factor (asks the password). */
export function renderTotpDisable({ onSuccess, user }) {
  const pass = h('input', { id: 'totp-disable-password', type: 'password', class: 'input', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', id: 'totp-disable', class: 'btn btn-danger', text: t('totp.disable') });
  const form = h('form', { id: 'totp-disable-form', class: 'auth-form', novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user || '', hidden: true, readOnly: true }),
    h('p', { class: 'muted small', text: t('totp.enabled_explain') }),
    field('totp-disable-password', t('login.password'), pass),
    h('div', { class: 'form-actions' }, btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!pass.value) { pass.focus(); return; }
    btn.disabled = true;
    try {
      const s = await api.post('/api/v1/auth/totp/disable', { password: pass.value });
      pass.value = '';
      onSuccess(s);
    } catch (e) {
      toastError(e);
    } finally {
      btn.disabled = false;
    }
  });
  return h('section', { id: 'page-totp', 'aria-labelledby': 'totp-title' },
    h('h2', { id: 'totp-title', class: 'card-title', text: t('totp.title') }), form);
}

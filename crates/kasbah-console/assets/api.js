// api.js — The console's HTTP client for Kasbah's API (docs/api.md): same-origin requests with
// the session cookie, the CSRF header on every state-changing request, JSON bodies, and errors
// turned into ApiError {status, code, message, column}. A 401 (session gone) or a 403
// `password_change_required` / `totp_enrollment_required` calls the handlers app.js registers.

let csrfToken = null;
const handlers = { unauthorized: null, passwordRequired: null };

export class ApiError extends Error {
  constructor(status, code, message, column) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.column = column;
  }
}

/** Registers what happens on 401 and on `password_change_required`. */
export function onSessionLost(fn) {
  handlers.unauthorized = fn;
}
export function onPasswordRequired(fn) {
  handlers.passwordRequired = fn;
}

export function setCsrf(token) {
  csrfToken = token || null;
}

/** True for an aborted request (a page left before its answer came): never an error to show. */
export function isAbort(e) {
  return e && (e.name === 'AbortError' || e.code === 'aborted');
}

/** True when an endpoint is not on this server (older binary): the caller degrades. */
export function isMissing(e) {
  // A route this binary lacks answers 404 `not_found`, 405, or (when it collides with a
  // `{id}` route, as /alerts/summary with /alerts/{id}) a plain-text 400.
  return e instanceof ApiError && ((e.status === 404 && (e.code === 'not_found' || e.code === 'http_404'))
    || e.status === 405 || e.code === 'http_400');
}

function buildUrl(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * One request. `opts`: `query` (object, empty values dropped), `body` (JSON-encoded), `signal`,
 * `quiet401` (do not call the session-lost handler: the boot-time `me` check).
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal, cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(buildUrl(path, opts.query), init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, 'network', e && e.message ? e.message : 'network error');
  }
  const text = res.status === 204 ? '' : await res.text();
  const data = parseJson(text);
  if (!res.ok) throw failure(res.status, data, text || res.statusText, res.headers.get('Retry-After'), opts);
  if (text && data === null) throw new ApiError(res.status, 'bad_response', text.slice(0, 200));
  return data;
}

/** The JSON of an answer's text, or null (empty or not JSON). */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}

/**
 * The ApiError of a failed answer (its `{"error": {...}}` body when there is one), after calling
 * the handler app.js registered for a lost session or a required password change.
 */
function failure(status, data, text, retryAfter, opts = {}) {
  const err = data && data.error && typeof data.error === 'object' ? data.error : null;
  const e = new ApiError(
    status,
    err && err.code ? String(err.code) : `http_${status}`,
    err && err.message ? String(err.message) : (text || `HTTP ${status}`).slice(0, 500),
    err && Number.isFinite(err.column) ? err.column : undefined,
  );
  e.retryAfter = retryAfter;
  e.diagnostics = err && Array.isArray(err.diagnostics) ? err.diagnostics : null;
  if (status === 401 && e.code !== 'invalid_credentials' && !opts.quiet401 && handlers.unauthorized) handlers.unauthorized(e);
  if ((e.code === 'password_change_required' || e.code === 'totp_enrollment_required') && handlers.passwordRequired) handlers.passwordRequired(e);
  return e;
}

/**
 * POSTs a file as the raw body (XMLHttpRequest, for upload progress: `fetch` reports none).
 * `onProgress(sent, total)`; `signal` aborts. Resolves to the JSON answer; errors as `request`.
 */
export function uploadFile(path, query, file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', buildUrl(path, query));
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    if (onProgress) xhr.upload.addEventListener('progress', (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size));
    const abort = () => xhr.abort();
    if (signal) signal.addEventListener('abort', abort, { once: true });
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'aborted')));
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'network error')));
    xhr.addEventListener('load', () => {
      if (signal) signal.removeEventListener('abort', abort);
      const data = parseJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(failure(xhr.status, data, xhr.responseText, xhr.getResponseHeader('Retry-After')));
    });
    xhr.send(file);
  });
}

export const api = {
  get: (path, query, opts = {}) => request('GET', path, { ...opts, query }),
  post: (path, body, opts = {}) => request('POST', path, { ...opts, body }),
  put: (path, body, opts = {}) => request('PUT', path, { ...opts, body }),
  del: (path, opts = {}) => request('DELETE', path, opts),
};

/** A path segment, encoded. */
export const seg = (s) => encodeURIComponent(String(s));

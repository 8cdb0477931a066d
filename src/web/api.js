// The JSON API, with the session cookie (sent by the browser, never seen
// by this code) and the CSRF token that whoami hands out.  Nothing is kept
// in localStorage.

let csrf = null;
let onSignedOut = () => {};

export function setCsrf(token) { csrf = token || null; }
export function whenSignedOut(fn) { onSignedOut = fn; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'http_' + status;
  }

  // The API names the field a 400 is about at the start of its message
  // ("duration: above the maximum 1h of policy prod-write").
  get field() {
    const m = /^([a-z_]+):\s/.exec(this.message);
    return this.status === 400 && m ? m[1] : null;
  }
}

// opts.timeoutMs: give up on an answer that takes longer (a network
// error, status 0).
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (opts.timeoutMs) init.signal = AbortSignal.timeout(opts.timeoutMs);
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrf) headers['X-Jitgate-CSRF'] = csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'jitgate cannot be reached; check your connection and try again');
  }
  let text;
  try {
    text = await res.text();
  } catch (e) {
    throw new ApiError(0, 'network', 'jitgate cannot be reached; check your connection and try again');
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    if (res.status === 401 && !path.startsWith('/auth/')) onSignedOut();
    throw new ApiError(res.status, err.code, err.message || res.statusText);
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body) => api('POST', path, body);

// Query strings from an object, leaving out empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// Every page of a listing (bounded: at most max items).
export async function listRequests(params, max = 1000) {
  const out = [];
  let after = null;
  for (;;) {
    const page = await get('/v1/requests' + qs({ ...params, limit: 500, after }));
    out.push(...page.requests);
    if (!page.next_after || out.length >= max) return out;
    after = page.next_after;
  }
}

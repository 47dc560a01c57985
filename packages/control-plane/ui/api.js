// The Admin API client of the Sluice UI: JSON over fetch to the URL /config.js names, with the
// token (when one is set) as `Authorization: Bearer`, a bounded time per request, and Kong's error
// bodies surfaced as `ApiError` (status, body) so forms can show `fields` beside their inputs.

/** Longest an Admin API call may take before it is abandoned, in ms. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** The sessionStorage key of the Admin API token. */
const TOKEN_KEY = 'sluice.adminToken';

/** The response header carrying the config version a write committed. */
export const CONFIG_VERSION_HEADER = 'X-Sluice-Config-Version';

/** An Admin API answer that is not 2xx: `status` and Kong's body (`{message, fields, code, name}`). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? (status === 0 ? 'The Admin API cannot be reached' : `HTTP ${status}`));
    this.status = status;
    this.body = body ?? {};
  }

  /** Kong's field errors (`fields` of a schema violation), or an empty object. */
  get fields() {
    return this.body && typeof this.body.fields === 'object' && this.body.fields !== null ? this.body.fields : {};
  }
}

/** The token set for this browser tab, or ''. */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

/** Sets (or with '' clears) the token for this browser tab. */
export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lives until reload.
  }
  memoryToken = token;
}

let memoryToken = '';

/** Listeners of every successful write: `({version, method, path})`. */
const writeListeners = new Set();

/** Calls `listener` after each write that committed a config version; returns an unsubscribe function. */
export function onWrite(listener) {
  writeListeners.add(listener);
  return () => writeListeners.delete(listener);
}

/** The Admin API base URL (no trailing slash). */
export function adminApiUrl() {
  return (window.SLUICE_CONFIG?.adminApiUrl ?? '').replace(/\/+$/, '');
}

/**
 * Calls the Admin API: `method` on `path` (with its query), `body` sent as JSON. Resolves with
 * `{status, body, headers}`; rejects with `ApiError` on a non-2xx status or a network failure.
 */
export async function request(method, path, body, { timeoutMs = REQUEST_TIMEOUT_MS, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken() || memoryToken;
  if (token) headers.Authorization = `Bearer ${token}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  let res;
  try {
    res = await fetch(adminApiUrl() + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'include',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, { message: timeout.aborted ? `The Admin API did not answer within ${timeoutMs / 1000} s` : 'The Admin API cannot be reached' });
  }
  const text = await res.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  const version = Number(res.headers.get(CONFIG_VERSION_HEADER));
  if (method !== 'GET' && Number.isSafeInteger(version) && version > 0) {
    for (const listener of writeListeners) listener({ version, method, path });
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export const get = (path, options) => request('GET', path, undefined, options).then((r) => r.body);

/** A path segment, percent-encoded. */
export const seg = (value) => encodeURIComponent(String(value));

/** Schemas fetched once per page load (they change only with the control plane's version). */
const schemaCache = new Map();

/** `GET /schemas/{kind}`, cached. */
export function entitySchema(kind) {
  if (!schemaCache.has(kind)) {
    const p = get(`/schemas/${seg(kind)}`);
    p.catch(() => schemaCache.delete(kind));
    schemaCache.set(kind, p);
  }
  return schemaCache.get(kind);
}

/** `GET /schemas/plugins/{name}`, cached; resolves with null when the Admin API has no such endpoint or plugin. */
export function pluginSchema(name) {
  const key = `plugins/${name}`;
  if (!schemaCache.has(key)) {
    const p = get(`/schemas/plugins/${seg(name)}`).catch((err) => {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return null;
      schemaCache.delete(key);
      throw err;
    });
    schemaCache.set(key, p);
  }
  return schemaCache.get(key);
}

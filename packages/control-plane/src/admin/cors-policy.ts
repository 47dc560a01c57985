/**
 * Which web pages may call the Admin API from a browser. By default none: responses carry no
 * `Access-Control-Allow-Origin`, so a page of another origin cannot read them. The origins listed
 * in `--admin-gui-origin` (Kong's `admin_gui_origin`) get their origin echoed with
 * `Access-Control-Allow-Credentials: true` and the config-version headers exposed (so a page can
 * wait for its write to propagate), and preflight answers naming the endpoint's methods, the
 * requested headers (`Authorization` included) and a max-age. The Sluice UI's own origin is added
 * to the list by the control plane (`gui/gui-origins.ts`).
 *
 * A browser sends a CORS "simple request" (a form POST) without asking first, so hiding the
 * response is not enough: a write (POST, PUT, PATCH, DELETE) whose `Origin` is neither allowed nor
 * the Admin API's own origin (the `Host` header's `scheme://host`) is refused with 403 before its
 * body is read. Requests without `Origin` (curl, scripts, the data planes) are not affected.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConfigurationError, CrossOriginError } from '../errors.js';
import { DEFAULT_ALLOWED_HEADERS } from './endpoint.js';

/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Methods that change state; a cross-origin one from an origin not allowed is refused. */
const WRITE_METHODS: ReadonlySet<string> = new Set(['DELETE', 'PATCH', 'POST', 'PUT']);

/** A header-name list as a browser sends it in `Access-Control-Request-Headers`. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/** Response headers a page of an allowed origin may read (the write's config version and epoch). */
export const CORS_EXPOSED_HEADERS = 'X-Sluice-Config-Version, X-Sluice-Config-Epoch';

/** Longest `Access-Control-Request-Headers` echoed back, in characters. */
const MAX_REQUEST_HEADERS_CHARS = 1024;

/** How a request's `Origin` relates to the Admin API. */
export type OriginKind = 'none' | 'same-origin' | 'allowed' | 'foreign';

/** The serialized origin of `value` (`scheme://host[:port]`), or `null` when it is not one. */
function serializedOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return null;
  return url.origin;
}

/**
 * Checks one `--admin-gui-origin` value and returns it serialized (lower-case, default port
 * dropped). Throws {@link ConfigurationError} for anything that is not `http(s)://host[:port]`,
 * `*` and `null` included: credentials are never shared with every origin.
 */
export function parseAllowedOrigin(value: string): string {
  const origin = serializedOrigin(value.trim());
  if (origin === null) {
    throw new ConfigurationError(`--admin-gui-origin: ${JSON.stringify(value)} is not an origin; expected scheme://host[:port], e.g. https://admin.example.com`);
  }
  return origin;
}

/** See the module comment. */
export class CorsPolicy {
  readonly #allowed: ReadonlySet<string>;

  /** `allowedOrigins`: each checked by {@link parseAllowedOrigin}. */
  constructor(allowedOrigins: readonly string[] = []) {
    this.#allowed = new Set(allowedOrigins.map(parseAllowedOrigin));
  }

  /** The allowed origins, serialized. */
  get allowedOrigins(): readonly string[] {
    return [...this.#allowed];
  }

  /** Classifies a request's `Origin` header against the allow list and the request's own origin. */
  classify(origin: string | undefined, host: string | undefined, protocol: string): OriginKind {
    if (origin === undefined) return 'none';
    const serialized = serializedOrigin(origin);
    if (serialized === null) return 'foreign';
    if (this.#allowed.has(serialized)) return 'allowed';
    if (host !== undefined && serializedOrigin(`${protocol}://${host}`) === serialized) return 'same-origin';
    return 'foreign';
  }

  /** Installs the policy as an `onRequest` hook of `app` (before routing's handlers and body parsing). */
  install(app: FastifyInstance): void {
    const hasAllowList = this.#allowed.size > 0;
    app.addHook('onRequest', async (request: FastifyRequest, reply) => {
      // Answers differ by Origin only when some origin is allowed; say so to caches.
      if (hasAllowList) reply.header('Vary', 'Origin');
      const origin = request.headers.origin;
      const kind = this.classify(origin, request.headers.host, request.protocol);
      if (kind === 'allowed') {
        reply.header('Access-Control-Allow-Origin', serializedOrigin(origin as string)).header('Access-Control-Allow-Credentials', 'true');
        reply.header('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS);
        if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
          const requested = request.headers['access-control-request-headers'];
          const headers = typeof requested === 'string' && requested.length <= MAX_REQUEST_HEADERS_CHARS && HEADER_LIST.test(requested) ? requested : DEFAULT_ALLOWED_HEADERS;
          reply.header('Access-Control-Allow-Headers', headers).header('Access-Control-Max-Age', String(CORS_PREFLIGHT_MAX_AGE_SECONDS));
        }
        return;
      }
      if (kind === 'foreign' && WRITE_METHODS.has(request.method)) throw new CrossOriginError(origin as string);
    });
  }
}

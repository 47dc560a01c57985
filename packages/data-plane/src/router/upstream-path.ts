/**
 * The upstream request path for a matched route, by Kong's v0 joining rules
 * (`kong.router.utils.get_upstream_uri_v0` as called from `kong/router/atc.lua`). Kong ignores
 * `path_handling` outside its `traditional` router, so every route joins v0.
 */

const CH_SLASH = 0x2f;

/**
 * Kong's `sanitize_uri_postfix`: a postfix of `.` or `..` becomes empty, and a leading `./` or
 * `../` is dropped.
 */
export function sanitizePostfix(postfix: string): string {
  if (postfix === '') return postfix;
  if (postfix === '.' || postfix === '..') return '';
  if (postfix.startsWith('./')) return postfix.slice(2);
  if (postfix.startsWith('../')) return postfix.slice(3);
  return postfix;
}

/**
 * Joins a service path and a normalised request path as Kong's v0 table does (Kong's
 * `get_upstream_uri_v0`, fed as `kong/router/atc.lua` feeds it).
 * @param base service.path, or `/` when the service has none.
 * @param requestPath the normalised request path (no query).
 * @param matchedPath the route path text that matched (a prefix, or a regex's match); null when
 *   the route has no paths.
 * @param stripPath route.strip_path.
 * @returns the unescaped upstream path.
 */
export function joinUpstreamPath(base: string, requestPath: string, matchedPath: string | null, stripPath: boolean): string {
  const prefix = stripPath ? matchedPath : null;
  const postfix = sanitizePostfix(prefix !== null ? requestPath.slice(prefix.length) : requestPath.slice(1));
  const requestEndsWithSlash = requestPath.length > 0 && requestPath.charCodeAt(requestPath.length - 1) === CH_SLASH;
  if (base.length > 0 && base.charCodeAt(base.length - 1) === CH_SLASH) {
    if (!stripPath) return base + requestPath.slice(1);
    if (postfix === '') {
      if (base === '/') return '/';
      return requestEndsWithSlash ? base : base.slice(0, -1);
    }
    if (postfix.charCodeAt(0) === CH_SLASH) return base.slice(0, -1) + postfix;
    return base + postfix;
  }
  if (!stripPath) return requestPath === '/' ? base : base + requestPath;
  if (postfix === '') return requestPath.length > 1 && requestEndsWithSlash ? base + '/' : base;
  if (postfix.charCodeAt(0) === CH_SLASH) return base + postfix;
  return base + '/' + postfix;
}

/**
 * A query string name or value decoded as nginx's `ngx.req.get_uri_args` decodes it: `%XX`
 * escapes, and `+` as a space. A malformed escape is kept as sent.
 */
export function decodeQueryComponent(text: string): string {
  const spaced = text.indexOf('+') === -1 ? text : text.replace(/\+/g, ' ');
  if (spaced.indexOf('%') === -1) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/**
 * The values of query argument `name` in request target `uri` (names compared decoded), in order:
 * a string per `name=value` (`""` for `name=`), `true` for a bare `name` (Kong's boolean arg).
 * Empty when absent. O(length of the query).
 */
export function queryArgValues(uri: string, name: string): (string | true)[] {
  const out: (string | true)[] = [];
  const queryAt = uri.indexOf('?');
  if (queryAt === -1) return out;
  const hashAt = uri.indexOf('#', queryAt);
  const query = hashAt === -1 ? uri.slice(queryAt + 1) : uri.slice(queryAt + 1, hashAt);
  if (query.indexOf(name) === -1 && query.indexOf('%') === -1 && query.indexOf('+') === -1) return out;
  for (const arg of query.split('&')) {
    if (arg === '') continue;
    const eq = arg.indexOf('=');
    const argName = decodeQueryComponent(eq === -1 ? arg : arg.slice(0, eq));
    if (argName !== name) continue;
    out.push(eq === -1 ? true : decodeQueryComponent(arg.slice(eq + 1)));
  }
  return out;
}

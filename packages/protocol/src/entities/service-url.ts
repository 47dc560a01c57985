/**
 * The service `url` shorthand (`kong/db/schema/entities/services.lua`), parsed the way LuaSocket's
 * `socket.url.parse` parses it.
 *
 * `url` is expanded before validation and never stored: it sets `protocol`, `host`, `port` and
 * `path` together, so a `url` without a path clears the path. The query string, fragment and `;`
 * parameters are dropped.
 */

/** The fields a `url` shorthand expands to; a value may be invalid and is validated afterwards. */
export interface ServiceUrlFields {
  protocol: string;
  host: string | null;
  port: number | string;
  path: string | null;
}

/** The components LuaSocket's `url.parse` extracts. */
interface ParsedUrl {
  scheme?: string;
  authority?: string;
  path?: string;
  host?: string;
  port?: string;
}

function parseLuaSocketUrl(input: string): ParsedUrl {
  const parsed: ParsedUrl = {};
  let url = input;
  url = url.replace(/^([A-Za-z0-9][A-Za-z0-9+\-.]*):/, (_m, s: string) => {
    parsed.scheme = s;
    return '';
  });
  url = url.replace(/^\/\/([^/?#]*)/, (_m, a: string) => {
    parsed.authority = a;
    return '';
  });
  url = url.replace(/#.*$/s, '');
  url = url.replace(/\?.*$/s, '');
  url = url.replace(/;.*$/s, '');
  if (url !== '') parsed.path = url;
  if (parsed.authority === undefined) return parsed;
  let authority = parsed.authority.replace(/^[^@]*@/, '');
  authority = authority.replace(/:([^:\]]*)$/, (_m, p: string) => {
    parsed.port = p;
    return '';
  });
  if (authority !== '') {
    const ipv6 = /^\[(.+)\]$/.exec(authority);
    parsed.host = ipv6?.[1] ?? authority;
  }
  return parsed;
}

/** Expands a `url` shorthand into service fields exactly as Kong does (see the module comment). */
export function expandServiceUrl(url: string): ServiceUrlFields {
  const parsed = parseLuaSocketUrl(url);
  const numericPort = parsed.port !== undefined && /^\s*\d+\s*$/.test(parsed.port) ? Number(parsed.port) : undefined;
  const inferred = numericPort === 80 ? 'http' : numericPort === 443 ? 'https' : undefined;
  const protocol = parsed.scheme ?? inferred ?? 'http';
  const defaultPort = protocol === 'https' ? 443 : 80;
  return {
    protocol,
    host: parsed.host ?? null,
    port: numericPort ?? parsed.port ?? defaultPort,
    path: parsed.path ?? null,
  };
}

import { HOST_KINDS, type HeaderCondition, type HostCondition } from './route-group.js';

/**
 * Request headers by lower-case name, a repeated header as an array of its values (Node's
 * `headersDistinct` shape).
 */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Whether a request to `host` (without its port; undefined when it sent no Host) on `port` meets
 * one of `hosts` (a route's host conditions: exact, `*.suffix` or `prefix.*`, each with an
 * optional port).
 */
export function hostMatches(hosts: readonly HostCondition[], host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!;
    if (h.port !== -1 && h.port !== port) continue;
    if (h.kind === HOST_KINDS.exact ? host === h.value : h.kind === HOST_KINDS.suffix ? host.endsWith(h.value) : host.startsWith(h.value)) {
      return true;
    }
  }
  return false;
}

function headerValueMatches(condition: HeaderCondition, value: string): boolean {
  const lower = value.toLowerCase();
  if (condition.values.includes(lower)) return true;
  for (let i = 0; i < condition.regexes.length; i++) if (condition.regexes[i]!.test(lower)) return true;
  return false;
}

/**
 * Whether request `headers` meet every one of `conditions` (a route's headers): for each name, any
 * of the request's values (lower-cased) equal to one of the condition's values or matching one of
 * its regexes.
 */
export function headersMatch(conditions: readonly HeaderCondition[], headers: RequestHeaders): boolean {
  if (headers === null || typeof headers !== 'object') return false;
  for (let i = 0; i < conditions.length; i++) {
    const condition = conditions[i]!;
    const value = headers[condition.name];
    if (typeof value === 'string') {
      if (!headerValueMatches(condition, value)) return false;
    } else if (Array.isArray(value)) {
      let any = false;
      for (let k = 0; k < value.length && !any; k++) any = typeof value[k] === 'string' && headerValueMatches(condition, value[k]);
      if (!any) return false;
    } else {
      return false;
    }
  }
  return true;
}

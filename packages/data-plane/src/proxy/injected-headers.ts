import { InvalidArgumentError } from '../errors.js';
import { PROXY_LATENCY_HEADER, REQUEST_ID_HEADER, RESPONSE_LATENCY_HEADER, UPSTREAM_LATENCY_HEADER, UPSTREAM_STATUS_HEADER } from './header-names.js';

/**
 * Which of its own headers the proxy adds, from Kong's `headers` (client responses) and
 * `headers_upstream` (requests to the upstream) settings. The forwarding headers (`X-Forwarded-*`,
 * `X-Real-IP`) and the upstream `Via` are not optional, as in Kong.
 */
export interface InjectedHeaders {
  /** `Server: sluice/<version>` on generated responses and on proxied ones whose upstream sent none. */
  readonly server: boolean;
  /** `Via` on proxied responses (the upstream's, with ours appended). */
  readonly via: boolean;
  readonly proxyLatency: boolean;
  readonly upstreamLatency: boolean;
  /** On responses the proxy generates (errors, redirects). */
  readonly responseLatency: boolean;
  /** The request id on responses. */
  readonly requestId: boolean;
  /** The upstream's status code on proxied responses (not in Kong's default). */
  readonly upstreamStatus: boolean;
  /** The request id on the request to the upstream. */
  readonly upstreamRequestId: boolean;
}

/** Kong's default `headers`, with Sluice's header names. */
export const DEFAULT_RESPONSE_HEADERS: readonly string[] = Object.freeze(['server_tokens', 'latency_tokens', REQUEST_ID_HEADER]);
/** Kong's default `headers_upstream`, with Sluice's header name. */
export const DEFAULT_UPSTREAM_HEADERS: readonly string[] = Object.freeze([REQUEST_ID_HEADER]);

type ResponseFlag = Exclude<keyof InjectedHeaders, 'upstreamRequestId'>;

/** The accepted `headers` values (case-insensitive) and what each turns on. */
const RESPONSE_TOKENS = new Map<string, readonly ResponseFlag[]>([
  ['server_tokens', ['server', 'via']],
  ['latency_tokens', ['proxyLatency', 'upstreamLatency', 'responseLatency']],
  ['server', ['server']],
  ['via', ['via']],
  [PROXY_LATENCY_HEADER.toLowerCase(), ['proxyLatency']],
  [UPSTREAM_LATENCY_HEADER.toLowerCase(), ['upstreamLatency']],
  [RESPONSE_LATENCY_HEADER.toLowerCase(), ['responseLatency']],
  [REQUEST_ID_HEADER.toLowerCase(), ['requestId']],
  [UPSTREAM_STATUS_HEADER.toLowerCase(), ['upstreamStatus']],
]);

/**
 * Resolves Kong-style header lists: `responseHeaders` of `server_tokens` (Server and Via),
 * `latency_tokens` (the three latency headers), `Server`, `Via`, `X-Sluice-Proxy-Latency`,
 * `X-Sluice-Upstream-Latency`, `X-Sluice-Response-Latency`, `X-Sluice-Request-Id`,
 * `X-Sluice-Upstream-Status` (not in the default), or `off` alone;
 * `upstreamHeaders` of `X-Sluice-Request-Id` or `off`. Case-insensitive, blanks ignored.
 * @throws InvalidArgumentError naming the setting and the value it does not know.
 */
export function injectedHeaders(responseHeaders: readonly string[] = DEFAULT_RESPONSE_HEADERS, upstreamHeaders: readonly string[] = DEFAULT_UPSTREAM_HEADERS): InjectedHeaders {
  const on = new Set<ResponseFlag>();
  for (const token of tokens('headers', responseHeaders)) {
    const flags = RESPONSE_TOKENS.get(token);
    if (flags === undefined) throw new InvalidArgumentError(`headers: unknown value ${JSON.stringify(token)} (accepted: ${[...RESPONSE_TOKENS.keys(), 'off'].join(', ')})`);
    for (const flag of flags) on.add(flag);
  }
  let upstreamRequestId = false;
  for (const token of tokens('headers_upstream', upstreamHeaders)) {
    if (token !== REQUEST_ID_HEADER.toLowerCase()) throw new InvalidArgumentError(`headers_upstream: unknown value ${JSON.stringify(token)} (accepted: ${REQUEST_ID_HEADER}, off)`);
    upstreamRequestId = true;
  }
  return {
    server: on.has('server'),
    via: on.has('via'),
    proxyLatency: on.has('proxyLatency'),
    upstreamLatency: on.has('upstreamLatency'),
    responseLatency: on.has('responseLatency'),
    requestId: on.has('requestId'),
    upstreamStatus: on.has('upstreamStatus'),
    upstreamRequestId,
  };
}

/** The lower-cased, non-blank values of a list; `off` (alone) is the empty list. */
function tokens(setting: string, values: readonly string[]): string[] {
  const list = values.map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  if (!list.includes('off')) return list;
  if (list.length > 1) throw new InvalidArgumentError(`${setting}: "off" cannot be combined with other values`);
  return [];
}

import { DataPlaneErrorCode } from '../errors.js';
import { PROXY_MESSAGES } from './error-responses.js';

/** Methods Kong (nginx) may send again after a connection failure. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** Error codes meaning the upstream connection failed before a response: retried for idempotent requests. */
export const CONNECTION_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Error codes meaning the service host does not resolve: answered 503, as Kong does. */
export const NAME_RESOLUTION_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN']);

/** Error codes answered with 504 rather than 502. */
export const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  DataPlaneErrorCode.UPSTREAM_WRITE_TIMEOUT,
]);

/** The generated response for an upstream request that failed before its response started. */
export interface UpstreamErrorAnswer {
  readonly status: 502 | 503 | 504;
  readonly message: string;
}

function answer(status: UpstreamErrorAnswer['status'], message: string): UpstreamErrorAnswer {
  return Object.freeze({ status, message });
}

/** The three answers {@link classifyUpstreamError} gives, shared (frozen) so classifying allocates nothing. */
export const UPSTREAM_ERROR_ANSWERS = {
  nameResolutionFailed: answer(503, PROXY_MESSAGES.nameResolutionFailed),
  gatewayTimeout: answer(504, PROXY_MESSAGES.gatewayTimeout),
  badGateway: answer(502, PROXY_MESSAGES.badGateway),
} as const;

/** {@link classifyUpstreamError}'s verdict that the same request should be dispatched again. */
export const RETRY = 'retry';

/**
 * What to do when an upstream request fails before any of its response reached the client: send
 * it again ({@link RETRY}) when the connection failed (`CONNECTION_FAILURE_CODES`), the method is
 * idempotent, the body can be replayed and `attempts` (dispatches so far, the failed one included)
 * is at most `retries` (the service's); otherwise the answer for `code`: 503 `name resolution
 * failed`, 504 for the timeouts, 502 for the rest. Pure: the same inputs give the same verdict.
 */
export function classifyUpstreamError(code: string, method: string, isReplayable: boolean, attempts: number, retries: number): UpstreamErrorAnswer | typeof RETRY {
  if (CONNECTION_FAILURE_CODES.has(code) && IDEMPOTENT_METHODS.has(method) && isReplayable && attempts <= retries) return RETRY;
  if (NAME_RESOLUTION_CODES.has(code)) return UPSTREAM_ERROR_ANSWERS.nameResolutionFailed;
  if (TIMEOUT_CODES.has(code)) return UPSTREAM_ERROR_ANSWERS.gatewayTimeout;
  return UPSTREAM_ERROR_ANSWERS.badGateway;
}

/** The `code` of an error (undici's, Node's, ours), or `''`. */
export function errorCode(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

import { REQUEST_ID_HEADER, RESPONSE_LATENCY_HEADER } from './header-names.js';
import type { InjectedHeaders } from './injected-headers.js';

/** Messages of the responses the proxy generates (Kong's texts). */
export const PROXY_MESSAGES = {
  noRoute: 'no Route matched with those values',
  noService: 'no Service found with those values',
  badGateway: 'An invalid response was received from the upstream server',
  gatewayTimeout: 'The upstream server is timing out',
  /** The service host does not resolve (Kong answers 503 too). */
  nameResolutionFailed: 'name resolution failed',
  badRequest: 'Bad request',
  headerTooLarge: 'Request header or cookie too large',
  requestTimeout: 'Request timeout',
  useHttps: 'Please use HTTPS protocol',
  internal: 'An unexpected error occurred',
} as const;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  301: 'Moved Permanently',
  302: 'Found',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The JSON body of a generated response. */
export function errorBody(message: string, requestId: string): string {
  return `{"message":${JSON.stringify(message)},"request_id":"${requestId}"}`;
}

/**
 * The proxy's own headers on a response it generates (request id, response latency, Server), as
 * `injected` allows, as a flat name/value list.
 */
export function generatedResponseHeaders(injected: InjectedHeaders, serverToken: string, requestId: string, startMs: number): string[] {
  const headers: string[] = [];
  if (injected.requestId) headers.push(REQUEST_ID_HEADER, requestId);
  if (injected.responseLatency) headers.push(RESPONSE_LATENCY_HEADER, String(Math.round(performance.now() - startMs)));
  if (injected.server) headers.push('Server', serverToken);
  return headers;
}

/** A complete HTTP/1.1 response with a JSON error body and `headers`, for sockets with no ServerResponse. */
export function rawResponse(status: number, message: string, requestId: string, headers: readonly string[] = []): string {
  const body = errorBody(message, requestId);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'connection') head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}


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
  /** A gRPC request on the HTTP/1.1 listener matched a gRPC route (Kong answers 426). */
  useHttp2: 'Please use HTTP2 protocol',
  /** A request that is not gRPC matched a gRPC route (415). */
  nonGrpc: 'Non-gRPC request matched gRPC route',
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
  415: 'Unsupported Media Type',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A generated response's body and its Content-Type. */
export interface ErrorBody {
  readonly contentType: string;
  readonly body: string;
}

const escapeMarkup = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Kong's `kong.response.error` templates, by the media type they answer. */
const ERROR_FORMATS = {
  json: (message: string, requestId: string): ErrorBody => ({
    contentType: 'application/json; charset=utf-8',
    body: `{"message":${JSON.stringify(message)},"request_id":"${requestId}"}`,
  }),
  html: (message: string, requestId: string): ErrorBody => ({
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>${escapeMarkup(message)}.</p>\n    <p>request_id: ${requestId}</p>\n  </body>\n</html>\n`,
  }),
  xml: (message: string, requestId: string): ErrorBody => ({
    contentType: 'application/xml; charset=utf-8',
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${escapeMarkup(message)}</message>\n  <requestid>${requestId}</requestid>\n</error>\n`,
  }),
  plain: (message: string, requestId: string): ErrorBody => ({
    contentType: 'text/plain; charset=utf-8',
    body: `${message}\nrequest_id: ${requestId}\n`,
  }),
} as const;
type ErrorFormat = keyof typeof ERROR_FORMATS;

const FORMAT_BY_MEDIA_TYPE: ReadonlyMap<string, ErrorFormat> = new Map([
  ['application/json', 'json'],
  ['application/*', 'json'],
  ['*/*', 'json'],
  ['text/html', 'html'],
  ['application/xml', 'xml'],
  ['text/plain', 'plain'],
  ['text/*', 'plain'],
]);

/**
 * The format an `Accept` header asks for, as Kong's `get_response_type` picks it: the media range
 * with the highest q (the first of equals; q=0 never), JSON for anything it has no template for,
 * and JSON without an Accept header.
 */
export function errorFormatFor(accept: string | undefined): ErrorFormat {
  if (accept === undefined) return 'json';
  let best: ErrorFormat = 'json';
  let bestQ = 0;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';');
    const mediaType = range!.trim().toLowerCase();
    if (mediaType === '') continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=');
      if (name!.trim().toLowerCase() === 'q') q = Number(value?.trim());
    }
    if (!(q > bestQ) || q > 1) continue;
    bestQ = q;
    best = FORMAT_BY_MEDIA_TYPE.get(mediaType) ?? 'json';
  }
  return best;
}

/** The body of a generated response, in the format `accept` asks for (Kong's messages and templates). */
export function errorBody(message: string, requestId: string, accept?: string): ErrorBody {
  return ERROR_FORMATS[errorFormatFor(accept)](message, requestId);
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

/** A complete HTTP/1.1 response with an error body (in the format `accept` asks for) and `headers`, for sockets with no ServerResponse. */
export function rawResponse(status: number, message: string, requestId: string, headers: readonly string[] = [], accept?: string): string {
  const { contentType, body } = errorBody(message, requestId, accept);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'connection') head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}


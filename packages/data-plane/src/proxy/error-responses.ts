import { STATUS_CODES } from 'node:http';
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

/**
 * Kong's default message of a generated error response by status (`kong/pdk/response.lua`
 * HTTP_ERROR_MESSAGES), used when a plugin answers without one.
 */
const KONG_ERROR_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized',
  402: 'Payment required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  407: 'Proxy authentication required',
  408: 'Request timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length required',
  412: 'Precondition failed',
  413: 'Payload too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  416: 'Range not satisfiable',
  417: 'Expectation failed',
  418: "I'm a teapot",
  421: 'Misdirected request',
  422: 'Unprocessable entity',
  423: 'Locked',
  424: 'Failed dependency',
  425: 'Too early',
  426: 'Upgrade required',
  428: 'Precondition required',
  429: 'Too many requests',
  431: 'Request header fields too large',
  451: 'Unavailable for legal reasons',
  494: 'Request header or cookie too large',
  500: 'An unexpected error occurred',
  501: 'Not implemented',
  502: 'An invalid response was received from the upstream server',
  503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out',
  505: 'HTTP version not supported',
  506: 'Variant also negotiates',
  507: 'Insufficient storage',
  508: 'Loop detected',
  510: 'Not extended',
  511: 'Network authentication required',
};

/** Kong's default message for an error `status`: its text, else `The upstream server responded with <status>`. */
export function defaultErrorMessage(status: number): string {
  return KONG_ERROR_MESSAGES[status] ?? `The upstream server responded with ${status}`;
}

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

/**
 * A generated response: its head as a flat name/value list (Content-Type, Content-Length, the
 * proxy's own headers as `injected` allows, then `extraHeaders`) and its body, in the format
 * `accept` asks for. `isRaw` (a socket with no ServerResponse: an upgrade handshake) adds
 * `Connection: close` after Content-Length and leaves out any Connection of `extraHeaders`.
 */
export function generatedResponse(
  injected: InjectedHeaders,
  serverToken: string,
  requestId: string,
  startMs: number,
  message: string,
  accept: string | undefined,
  extraHeaders: readonly string[] | undefined,
  isRaw: boolean,
): { headers: string[]; body: string } {
  const { contentType, body } = errorBody(message, requestId, accept);
  const headers = ['Content-Type', contentType, 'Content-Length', String(Buffer.byteLength(body))];
  if (isRaw) headers.push('Connection', 'close');
  if (injected.requestId) headers.push(REQUEST_ID_HEADER, requestId);
  if (injected.responseLatency) headers.push(RESPONSE_LATENCY_HEADER, String(Math.round(performance.now() - startMs)));
  if (injected.server) headers.push('Server', serverToken);
  if (extraHeaders !== undefined) {
    for (let i = 0; i + 1 < extraHeaders.length; i += 2) if (!isRaw || extraHeaders[i]!.toLowerCase() !== 'connection') headers.push(extraHeaders[i]!, extraHeaders[i + 1]!);
  }
  return { headers, body };
}

/** A generated response's HTTP/1.1 head (status line, headers, blank line) for a socket with no ServerResponse. */
export function rawResponseHead(status: number, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** A complete HTTP/1.1 response with an error body (in the format `accept` asks for) and `headers`, for sockets with no ServerResponse. */
export function rawResponse(status: number, message: string, requestId: string, headers: readonly string[] = [], accept?: string): string {
  const { contentType, body } = errorBody(message, requestId, accept);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'connection') head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}


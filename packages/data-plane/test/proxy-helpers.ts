import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Route, Service } from '@sluice/protocol';
import { Router } from '../src/router/router.js';
import type { ProxyConfig } from '../src/proxy/proxy-server.js';

/** What the echo upstream saw. */
export interface Echo {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** A real upstream on loopback; by default it answers 200 with a JSON echo of the request. */
export async function startUpstream(
  handler?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
): Promise<{ server: Server; port: number; requests: Echo[]; close: () => Promise<void> }> {
  const requests: Echo[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const echo = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: body.toString('latin1') };
      requests.push(echo);
      if (handler) return handler(req, res, body);
      const out = JSON.stringify(echo);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A ProxyConfig over the given entities. */
export function configOf(routes: Route[], services: Service[], version = 1): ProxyConfig {
  const map = new Map(services.map((s) => [s.id, s]));
  return { router: Router.build(routes, map), services: map, version };
}

/** A plain HTTP/1.1 response read whole. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  json: () => Record<string, unknown>;
}

/** Sends one request on a fresh connection. */
export function send(port: number, options: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; setHost?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, agent: false, setHost: options.setHost ?? true },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, json: () => JSON.parse(body) as Record<string, unknown> });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes (no bare sleeps). */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A response read raw off the socket, for handshakes (reason phrase and header order as sent). */
export interface RawReply {
  status: number;
  reason: string;
  /** Header names lower-cased, repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Header names as sent, in order. */
  headerNames: string[];
  body: string;
}

/** Sends a WebSocket handshake on a fresh connection and reads until the proxy closes it. */
export function sendUpgrade(port: number, path = '/', onSocket?: (socket: Socket) => void): Promise<RawReply> {
  return sendRaw(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    onSocket,
  );
}

/**
 * Writes `request` as is on a fresh connection (for heads no HTTP client sends) and reads until
 * the proxy closes it; fails when it is still open after `timeoutMs`.
 */
export function sendRaw(port: number, request: string, onSocket?: (socket: Socket) => void, timeoutMs = 10_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the proxy did not close the connection within ${timeoutMs} ms; it sent ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseRawReply(Buffer.concat(chunks).toString('latin1')));
    });
    onSocket?.(socket);
  });
}

function parseRawReply(raw: string): RawReply {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd === -1) throw new Error(`no complete response head in ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.slice(0, headEnd).split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine);
  if (status === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  const headerNames: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    const key = name.toLowerCase();
    headerNames.push(name);
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return { status: Number(status[1]), reason: status[2]!, headers, headerNames, body: raw.slice(headEnd + 4) };
}

/** A loopback port nothing listens on (bound, then released): connections to it are refused. */
export async function refusingPort(): Promise<number> {
  const closed = createNetServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  return port;
}

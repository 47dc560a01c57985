import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

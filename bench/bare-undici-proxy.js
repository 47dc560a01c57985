#!/usr/bin/env node
// The Node ceiling: a node:http server forwarding every request through one undici Pool with
// `dispatch` (raw header arrays, no routing, no header rewriting beyond what undici requires),
// streaming both ways. With --kong-headers it also sends the headers Sluice sends for the
// benchmark's request (forwarding headers, Via, request id upstream; Via, latency headers and
// request id to the client), as constants: the same bytes on the wire as Sluice with none of the
// work of computing them, which separates what Kong's header contract costs from what Sluice's
// code costs.
// Usage: node bare-undici-proxy.js --port P --upstream-port U [--workers N] [--kong-headers]
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { arg, serve } from './cluster-serve.js';

const port = Number(arg('port', '8081'));
const upstreamPort = Number(arg('upstream-port', '8080'));
const SKIP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect']);
const kongHeaders = process.argv.includes('--kong-headers');
const ID = '0123456789abcdef0123456789abcdef';
const UPSTREAM_HEADERS = ['X-Forwarded-For', '127.0.0.1', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'api-50.bench.local', 'X-Forwarded-Port', String(port), 'X-Forwarded-Path', '/api/v1/r50/items', 'X-Forwarded-Prefix', '/api/v1/r50', 'X-Real-IP', '127.0.0.1', 'Via', '1.1 sluice/0.1.0', 'X-Sluice-Request-Id', ID];
const RESPONSE_HEADERS = ['Via', '1.1 sluice/0.1.0', 'X-Sluice-Upstream-Latency', '0', 'X-Sluice-Proxy-Latency', '0', 'X-Sluice-Request-Id', ID];

await serve(Number(arg('workers', '1')), async () => {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 512, pipelining: 1 });
  const server = createServer((req, res) => {
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!SKIP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    if (kongHeaders) headers.push(...UPSTREAM_HEADERS);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch(
      { path: req.url, method: req.method, headers, body: hasBody ? req : null },
      {
        onConnect() {},
        onHeaders(status, rawHeaders, resume) {
          const out = [];
          for (let i = 0; i < rawHeaders.length; i += 2) {
            const name = rawHeaders[i].toString('latin1');
            if (!SKIP.has(name.toLowerCase())) out.push(name, rawHeaders[i + 1].toString('latin1'));
          }
          if (kongHeaders) out.push(...RESPONSE_HEADERS);
          res.writeHead(status, out);
          res.once('drain', resume);
          return true;
        },
        onData(chunk) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
        onError() {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        },
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
});

#!/usr/bin/env node
// http-proxy (node-http-proxy) with a keep-alive agent.
// Usage: node http-proxy.js --port P --upstream-port U [--workers N]
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';
import { arg, serve } from './cluster-serve.js';

const port = Number(arg('port', '8083'));
const upstreamPort = Number(arg('upstream-port', '8080'));

await serve(Number(arg('workers', '1')), async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
  proxy.on('error', (_err, _req, res) => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
});

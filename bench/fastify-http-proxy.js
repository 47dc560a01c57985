#!/usr/bin/env node
// @fastify/http-proxy in front of the upstream (its default undici-based reply.from).
// Usage: node fastify-http-proxy.js --port P --upstream-port U [--workers N]
import fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { arg, serve } from './cluster-serve.js';

const port = Number(arg('port', '8082'));
const upstreamPort = Number(arg('upstream-port', '8080'));

await serve(Number(arg('workers', '1')), async () => {
  const app = fastify({ logger: false, keepAliveTimeout: 60_000 });
  await app.register(proxy, { upstream: `http://127.0.0.1:${upstreamPort}`, undici: { connections: 512, pipelining: 1 } });
  await app.listen({ port, host: '127.0.0.1' });
});

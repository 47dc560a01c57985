#!/usr/bin/env node
// Sluice's ProxyServer (public export of @sluice/data-plane, built dist/) with the synthetic
// route table of route-set.js loaded: full router, Kong's forwarding headers, request ids,
// latency headers. Usage: node sluice-proxy.js --port P --upstream-port U [--routes N] [--workers N]
import { ProxyServer, Router } from '@sluice/data-plane';
import { arg, serve } from './cluster-serve.js';
import { makeRoutes, makeServices } from './route-set.js';

const port = Number(arg('port', '8084'));
const upstreamPort = Number(arg('upstream-port', '8080'));
const routeCount = Number(arg('routes', '100'));

await serve(Number(arg('workers', '1')), async () => {
  const services = makeServices(upstreamPort);
  const serviceMap = new Map(services.map((s) => [s.id, s]));
  const config = { router: Router.build(makeRoutes(routeCount, services), serviceMap), services: serviceMap, version: 1 };
  const proxy = new ProxyServer({ getConfig: () => config });
  await proxy.listen('127.0.0.1', port);
});

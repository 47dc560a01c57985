// A synthetic route table for the proxy and router benchmarks: every kind of Kong matcher
// (exact hosts, wildcard hosts, hosts with ports, prefix paths, regex paths, methods, headers),
// all pointing at services on one upstream origin. `benchRequest(n)` is a request that matches a
// route in the middle of the table (host + prefix path), as a typical API call would.

const UUID_TAIL = (n) => n.toString(16).padStart(12, '0');

/** @returns {import('@sluice/protocol').Service[]} */
export function makeServices(upstreamPort, count = 10) {
  return Array.from({ length: count }, (_, i) => ({
    id: `00000000-0000-4000-9000-${UUID_TAIL(i)}`,
    created_at: 1700000000,
    updated_at: 1700000000,
    name: `svc-${i}`,
    protocol: 'http',
    host: '127.0.0.1',
    port: upstreamPort,
    path: null,
    retries: 5,
    connect_timeout: 60000,
    write_timeout: 60000,
    read_timeout: 60000,
    enabled: true,
    tags: null,
    client_certificate: null,
    tls_verify: null,
    tls_verify_depth: null,
    ca_certificates: null,
  }));
}

function route(i, services, fields) {
  return {
    id: `00000000-0000-4000-8000-${UUID_TAIL(i)}`,
    created_at: 1700000000,
    updated_at: 1700000000,
    name: `route-${i}`,
    protocols: ['http', 'https'],
    methods: null,
    hosts: null,
    paths: null,
    headers: null,
    snis: null,
    sources: null,
    destinations: null,
    strip_path: true,
    preserve_host: false,
    regex_priority: 0,
    path_handling: 'v0',
    https_redirect_status_code: 426,
    request_buffering: true,
    response_buffering: true,
    service: { id: services[i % services.length].id },
    tags: null,
    ...fields,
  };
}

/** `count` routes of mixed kinds. */
export function makeRoutes(count, services) {
  const routes = [];
  for (let i = 0; i < count; i++) {
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        routes.push(route(i, services, { hosts: [`api-${i}.bench.local`], paths: [`/api/v1/r${i}`] }));
        break;
      case 4:
        routes.push(route(i, services, { paths: [`/svc${i}/`], methods: ['GET', 'POST'] }));
        break;
      case 5:
        routes.push(route(i, services, { paths: [`/static${i}`, `/assets${i}/`] }));
        break;
      case 6:
        routes.push(route(i, services, { hosts: [`*.tenant${i}.bench.local`], paths: ['/'] }));
        break;
      case 7:
        routes.push(route(i, services, { paths: [`~/users/${i}/(?<id>\\d+)$`], regex_priority: i % 3 }));
        break;
      case 8:
        routes.push(route(i, services, { headers: { 'x-tenant': [`t${i}`] }, paths: [`/h${i}`] }));
        break;
      default:
        routes.push(route(i, services, { hosts: [`app${i}.bench.local:8000`, `app${i}.bench.local`], methods: ['GET'] }));
        break;
    }
  }
  return routes;
}

/** The proxy benchmark's request: a host + prefix route in the middle of the table. */
export function benchRequest(count) {
  const k = Math.floor(count / 20) * 10; // a multiple of 10: an exact-host + path route
  return { host: `api-${k}.bench.local`, path: `/api/v1/r${k}/items?limit=10` };
}

/** Router benchmark requests: each kind of route, and misses. */
export function routerRequests(count) {
  const out = [];
  for (let j = 0; j < 64; j++) {
    const base = Math.floor((((j * 7919) % count) / 10)) * 10;
    const pick = (k) => Math.min(base + k, count - 1 - ((count - 1 - k) % 10));
    switch (j % 8) {
      case 0:
        out.push({ method: 'GET', target: `/api/v1/r${pick(0)}/items?x=1`, host: `api-${pick(0)}.bench.local`, port: 8000, scheme: 'http', headers: {} });
        break;
      case 1:
        out.push({ method: 'GET', target: `/svc${pick(4)}/a/b`, host: 'other.example', port: 8000, scheme: 'http', headers: {} });
        break;
      case 2:
        out.push({ method: 'GET', target: '/x', host: `a.tenant${pick(6)}.bench.local`, port: 8000, scheme: 'http', headers: {} });
        break;
      case 3:
        out.push({ method: 'GET', target: `/users/${pick(7)}/42`, host: 'other.example', port: 8000, scheme: 'http', headers: {} });
        break;
      case 4:
        out.push({ method: 'GET', target: `/h${pick(8)}`, host: 'other.example', port: 8000, scheme: 'http', headers: { 'x-tenant': `t${pick(8)}` } });
        break;
      case 5:
        out.push({ method: 'GET', target: '/', host: `app${pick(9)}.bench.local:8000`, port: 8000, scheme: 'http', headers: {} });
        break;
      case 6:
        out.push({ method: 'GET', target: `/static${pick(5)}/x.css`, host: 'cdn.example', port: 8000, scheme: 'http', headers: {} });
        break;
      default:
        out.push({ method: 'GET', target: '/no/such/route', host: 'miss.example', port: 8000, scheme: 'http', headers: {} });
        break;
    }
  }
  return out;
}

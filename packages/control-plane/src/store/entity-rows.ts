/**
 * Conversions between entities in Kong's JSON shape and their table rows. The one place that knows
 * how a field is stored (foreign keys as `<field>_id`, headers as jsonb, bigints as numbers).
 */
import type { Route, Service, ServiceProtocol } from '@sluice/protocol';
import type { Insertable, Selectable } from 'kysely';
import type { RoutesTable, ServicesTable } from './database.js';

/** A `services` row as read. */
export type ServiceRow = Selectable<ServicesTable>;
/** A `routes` row as read. */
export type RouteRow = Selectable<RoutesTable>;

/** A service row to write. */
export function serviceToRow(s: Service): Insertable<ServicesTable> {
  return {
    id: s.id,
    created_at: s.created_at,
    updated_at: s.updated_at,
    name: s.name,
    protocol: s.protocol,
    host: s.host,
    port: s.port,
    path: s.path,
    retries: s.retries,
    connect_timeout: s.connect_timeout,
    write_timeout: s.write_timeout,
    read_timeout: s.read_timeout,
    enabled: s.enabled,
    tags: s.tags,
    client_certificate_id: s.client_certificate?.id ?? null,
    tls_verify: s.tls_verify,
    tls_verify_depth: s.tls_verify_depth,
    ca_certificates: s.ca_certificates,
  };
}

/** A service in Kong's JSON shape, fields in Kong's schema order. */
export function rowToService(r: ServiceRow): Service {
  return {
    id: r.id,
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    name: r.name,
    retries: r.retries,
    protocol: r.protocol as ServiceProtocol,
    host: r.host,
    port: r.port,
    path: r.path,
    connect_timeout: r.connect_timeout,
    write_timeout: r.write_timeout,
    read_timeout: r.read_timeout,
    tags: r.tags,
    client_certificate: r.client_certificate_id === null ? null : { id: r.client_certificate_id },
    tls_verify: r.tls_verify,
    tls_verify_depth: r.tls_verify_depth,
    ca_certificates: r.ca_certificates,
    enabled: r.enabled,
  };
}

/** A route row to write. */
export function routeToRow(r: Route): Insertable<RoutesTable> {
  return {
    id: r.id,
    created_at: r.created_at,
    updated_at: r.updated_at,
    name: r.name,
    service_id: r.service?.id ?? null,
    protocols: r.protocols,
    methods: r.methods,
    hosts: r.hosts,
    paths: r.paths,
    headers: r.headers === null ? null : JSON.stringify(r.headers),
    snis: r.snis,
    strip_path: r.strip_path,
    preserve_host: r.preserve_host,
    regex_priority: r.regex_priority,
    path_handling: r.path_handling,
    https_redirect_status_code: r.https_redirect_status_code,
    request_buffering: r.request_buffering,
    response_buffering: r.response_buffering,
    tags: r.tags,
  };
}

/** A route in Kong's JSON shape, fields in Kong's schema order. */
export function rowToRoute(r: RouteRow): Route {
  return {
    id: r.id,
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
    name: r.name,
    protocols: r.protocols,
    https_redirect_status_code: r.https_redirect_status_code,
    strip_path: r.strip_path,
    preserve_host: r.preserve_host,
    request_buffering: r.request_buffering,
    response_buffering: r.response_buffering,
    tags: r.tags,
    service: r.service_id === null ? null : { id: r.service_id },
    snis: r.snis,
    sources: null,
    destinations: null,
    methods: r.methods,
    hosts: r.hosts,
    paths: r.paths,
    headers: r.headers,
    regex_priority: Number(r.regex_priority),
    path_handling: r.path_handling as Route['path_handling'],
  };
}

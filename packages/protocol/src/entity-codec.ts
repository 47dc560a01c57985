import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { pb } from './proto.js';
import type { EntityKind, Route, Service, ServiceProtocol } from './entities/types.js';

/** The protobuf EntityType value for each entity kind. */
export const ENTITY_TYPE_BY_KIND = { services: pb.EntityType.ENTITY_TYPE_SERVICE, routes: pb.EntityType.ENTITY_TYPE_ROUTE } as const;

/** The entity kind for a protobuf EntityType value, or undefined for an unknown value. */
export function kindOfEntityType(type: number): EntityKind | undefined {
  if (type === pb.EntityType.ENTITY_TYPE_SERVICE) return 'services';
  if (type === pb.EntityType.ENTITY_TYPE_ROUTE) return 'routes';
  return undefined;
}

const list = (values: readonly string[] | null) => (values === null ? null : { values: [...values] });
const unlist = (value: { values?: string[] | null } | null | undefined): string[] | null => (value ? [...(value.values ?? [])] : null);
const opt = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);

/**
 * Encodes a Service into its protobuf bytes. Deterministic: the same entity always gives the same
 * bytes on every control-plane replica, so replicas agree on content hashes.
 */
export function encodeService(s: Service): Uint8Array {
  return pb.Service.encode({
    id: s.id,
    createdAt: s.created_at,
    updatedAt: s.updated_at,
    name: s.name,
    protocol: s.protocol,
    host: s.host,
    port: s.port,
    path: s.path,
    retries: s.retries,
    connectTimeout: s.connect_timeout,
    writeTimeout: s.write_timeout,
    readTimeout: s.read_timeout,
    enabled: s.enabled,
    tags: list(s.tags),
    clientCertificate: s.client_certificate,
    tlsVerify: s.tls_verify,
    tlsVerifyDepth: s.tls_verify_depth,
    caCertificates: list(s.ca_certificates),
  }).finish();
}

/** Encodes a Route into its protobuf bytes (deterministic: header names are sorted). */
export function encodeRoute(r: Route): Uint8Array {
  let headers: { values: Record<string, { values: string[] }> } | null = null;
  if (r.headers !== null) {
    const values: Record<string, { values: string[] }> = {};
    for (const name of Object.keys(r.headers).sort()) values[name] = { values: [...r.headers[name]] };
    headers = { values };
  }
  return pb.Route.encode({
    id: r.id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    name: r.name,
    protocols: list(r.protocols),
    methods: list(r.methods),
    hosts: list(r.hosts),
    paths: list(r.paths),
    headers,
    snis: list(r.snis),
    stripPath: r.strip_path,
    preserveHost: r.preserve_host,
    regexPriority: r.regex_priority,
    pathHandling: r.path_handling,
    httpsRedirectStatusCode: r.https_redirect_status_code,
    requestBuffering: r.request_buffering,
    responseBuffering: r.response_buffering,
    service: r.service,
    tags: list(r.tags),
  }).finish();
}

/** Decodes protobuf bytes into a Service in Kong's JSON shape. Throws ProtocolError on undecodable bytes. */
export function decodeService(bytes: Uint8Array): Service {
  let m;
  try {
    m = pb.Service.decode(bytes);
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.ENTITY_DECODE, `undecodable service: ${(cause as Error).message}`, { cause });
  }
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: opt(m.name),
    protocol: m.protocol as ServiceProtocol,
    host: m.host,
    port: m.port,
    path: opt(m.path),
    retries: m.retries,
    connect_timeout: m.connectTimeout,
    write_timeout: m.writeTimeout,
    read_timeout: m.readTimeout,
    enabled: m.enabled,
    tags: unlist(m.tags),
    client_certificate: m.clientCertificate ? { id: m.clientCertificate.id ?? '' } : null,
    tls_verify: opt(m.tlsVerify),
    tls_verify_depth: opt(m.tlsVerifyDepth),
    ca_certificates: unlist(m.caCertificates),
  };
}

/** Decodes protobuf bytes into a Route in Kong's JSON shape. Throws ProtocolError on undecodable bytes. */
export function decodeRoute(bytes: Uint8Array): Route {
  let m;
  try {
    m = pb.Route.decode(bytes);
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.ENTITY_DECODE, `undecodable route: ${(cause as Error).message}`, { cause });
  }
  let headers: Record<string, string[]> | null = null;
  if (m.headers) {
    headers = {};
    for (const [name, values] of Object.entries(m.headers.values ?? {})) headers[name] = [...(values.values ?? [])];
  }
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: opt(m.name),
    protocols: unlist(m.protocols) ?? [],
    methods: unlist(m.methods),
    hosts: unlist(m.hosts),
    paths: unlist(m.paths),
    headers,
    snis: unlist(m.snis),
    sources: null,
    destinations: null,
    strip_path: m.stripPath,
    preserve_host: m.preserveHost,
    regex_priority: m.regexPriority,
    path_handling: m.pathHandling === 'v1' ? 'v1' : 'v0',
    https_redirect_status_code: m.httpsRedirectStatusCode,
    request_buffering: m.requestBuffering,
    response_buffering: m.responseBuffering,
    service: m.service ? { id: m.service.id ?? '' } : null,
    tags: unlist(m.tags),
  };
}

/** Encodes an entity of the given kind. */
export function encodeEntity(kind: EntityKind, entity: Service | Route): Uint8Array {
  return kind === 'services' ? encodeService(entity as Service) : encodeRoute(entity as Route);
}

/** Decodes an entity of the given kind. */
export function decodeEntity(kind: EntityKind, bytes: Uint8Array): Service | Route {
  return kind === 'services' ? decodeService(bytes) : decodeRoute(bytes);
}

/**
 * The `services` kind: where matched requests are sent (`kong/db/schema/entities/services.lua`).
 * Schema and checks in `../service-schema.ts`; here its codec and registry definition.
 */
import { pb } from '../../proto.js';
import { defineEntity } from '../entity-definition.js';
import { SERVICE_SCHEMA, SERVICE_HOOKS } from '../service-schema.js';
import type { EntityInterner } from '../entity-interner.js';
import type { Service, ServiceProtocol } from '../types.js';
import { decodeOrThrow, entityReader, foreign, list, opt, unlist, word } from './wire.js';

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

/**
 * Decodes protobuf bytes into a Service in Kong's JSON shape; with `shared`, its id (the string routes
 * reference it by), host and repeated values are the interner's. Throws ProtocolError on undecodable bytes.
 */
export function decodeService(bytes: Uint8Array, shared?: EntityInterner): Service {
  const m = decodeOrThrow('service', () => pb.Service.decode(entityReader(bytes)));
  return {
    id: shared ? shared.string(m.id) : m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: opt(m.name),
    protocol: word(m.protocol) as ServiceProtocol,
    host: shared ? shared.string(m.host) : m.host,
    port: m.port,
    path: opt(m.path),
    retries: m.retries,
    connect_timeout: m.connectTimeout,
    write_timeout: m.writeTimeout,
    read_timeout: m.readTimeout,
    enabled: m.enabled,
    tags: unlist(m.tags, shared),
    client_certificate: foreign(m.clientCertificate, shared),
    tls_verify: opt(m.tlsVerify),
    tls_verify_depth: opt(m.tlsVerifyDepth),
    ca_certificates: unlist(m.caCertificates),
  };
}


/** The `services` definition. */
export const SERVICES = defineEntity<Service>({
  kind: 'services',
  singular: 'service',
  wireType: pb.EntityType.ENTITY_TYPE_SERVICE,
  schema: SERVICE_SCHEMA,
  hooks: SERVICE_HOOKS,
  endpointKey: 'name',
  encode: encodeService,
  decode: decodeService,
});

/** Validates input for a service (see {@link EntityDefinition.prepare}); `url` overrides protocol, host, port and path. */
export const prepareService: typeof SERVICES.prepare = (input, options) => SERVICES.prepare(input, options);

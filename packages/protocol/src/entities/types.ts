/**
 * Gateway entities in Kong's Admin API shape. Every field is present; a field Kong allows to be
 * unset is `null` (never `undefined`), exactly as the Admin API returns it. Timestamps are integer
 * seconds since the epoch, as in Kong.
 */

/** Protocols a service may speak upstream (Kong's full list, sorted as Kong sorts it). */
export const SERVICE_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp'] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

/** Route protocols Sluice can proxy today. Kong's other protocols are rejected with a schema violation. */
export const SUPPORTED_ROUTE_PROTOCOLS = ['http', 'https'] as const;

/** Allowed values of `route.https_redirect_status_code`. */
export const HTTPS_REDIRECT_STATUS_CODES = [426, 301, 302, 307, 308] as const;

/** A reference to another entity by primary key, as Kong returns foreign keys. */
export interface ForeignKey {
  id: string;
}

/** An upstream service: where matched requests are sent. */
export interface Service {
  id: string;
  created_at: number;
  updated_at: number;
  name: string | null;
  protocol: ServiceProtocol;
  host: string;
  port: number;
  path: string | null;
  retries: number;
  connect_timeout: number;
  write_timeout: number;
  read_timeout: number;
  enabled: boolean;
  tags: string[] | null;
  client_certificate: ForeignKey | null;
  tls_verify: boolean | null;
  tls_verify_depth: number | null;
  ca_certificates: string[] | null;
}

/** A route: the rules that match a request, and the service it is proxied to. */
export interface Route {
  id: string;
  created_at: number;
  updated_at: number;
  name: string | null;
  protocols: string[];
  methods: string[] | null;
  hosts: string[] | null;
  paths: string[] | null;
  headers: Record<string, string[]> | null;
  snis: string[] | null;
  sources: null;
  destinations: null;
  strip_path: boolean;
  preserve_host: boolean;
  regex_priority: number;
  path_handling: 'v0' | 'v1';
  https_redirect_status_code: number;
  request_buffering: boolean;
  response_buffering: boolean;
  service: ForeignKey | null;
  tags: string[] | null;
}

/** A client of the gateway (`kong/db/schema/entities/consumers.lua`): `username` and/or `custom_id`. */
export interface Consumer {
  id: string;
  created_at: number;
  updated_at: number;
  username: string | null;
  custom_id: string | null;
  tags: string[] | null;
}

/**
 * The entity type of each kind, by its Admin API collection name. A kind is added here, in
 * `ENTITY_KINDS` and in `ENTITIES` (`registry.ts`); the compiler refuses the registry until all three agree.
 */
export interface EntityTypes {
  services: Service;
  routes: Route;
  consumers: Consumer;
}

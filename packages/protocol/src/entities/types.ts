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
 * A plugin instance (`kong/db/schema/entities/plugins.lua`): a plugin `name`, the scope it applies
 * to (`route`, `service`, `consumer`, each null for "any"; all null = global), and its `config`
 * with every default of the plugin's schema filled in (see `plugins/`).
 */
export interface Plugin {
  id: string;
  created_at: number;
  updated_at: number;
  name: string;
  instance_name: string | null;
  route: ForeignKey | null;
  service: ForeignKey | null;
  consumer: ForeignKey | null;
  /** The plugin's config record, complete (defaults applied), in its schema's field order. */
  config: Record<string, unknown>;
  protocols: string[];
  enabled: boolean;
  tags: string[] | null;
}

/**
 * A key-auth credential (`kong/plugins/key-auth/daos.lua`, `keyauth_credentials`). Kong's `ttl`
 * is relative on the Admin API; Sluice stores the absolute expiry so the entity, its bytes and
 * its hash do not change with time.
 */
export interface KeyAuthCredential {
  id: string;
  created_at: number;
  updated_at: number;
  consumer: ForeignKey;
  key: string;
  /** When the credential stops authenticating, integer seconds since the epoch; null = never. */
  expires_at: number | null;
  tags: string[] | null;
}

/**
 * A basic-auth credential (`basicauth_credentials`). `password` is never the clear text: either
 * Kong's hash (40 lower-case hex characters, `sha1(password .. consumer_id)`, accepted on import)
 * or Sluice's scrypt hash (`$scrypt$…`, see `plugins/basic-auth`).
 */
export interface BasicAuthCredential {
  id: string;
  created_at: number;
  updated_at: number;
  consumer: ForeignKey;
  username: string;
  password: string;
  tags: string[] | null;
}

/** A consumer's membership of an ACL group (`acls`): one row per (consumer, group). */
export interface Acl {
  id: string;
  created_at: number;
  updated_at: number;
  consumer: ForeignKey;
  group: string;
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
  plugins: Plugin;
  keyauth_credentials: KeyAuthCredential;
  basicauth_credentials: BasicAuthCredential;
  acls: Acl;
}

export * from './entities/types.js';
export * from './limits.js';
export * from './close-codes.js';
export * from './errors.js';
export * from './proto.js';
export * from './frame-codec.js';
export * from './config-hash.js';
export * from './blob.js';
export * from './snapshot-assembler.js';
export * from './config-state.js';
export * from './entities/index.js';
export * from './cluster-identity.js';
export { PLUGIN_SCHEMA_VERSION, PLUGIN_DESCRIPTORS, type PluginDescriptor, pluginNotEnabledMessage } from './plugins/plugin-catalog.js';
export {
  DEFAULT_SCRYPT_PARAMS,
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_PARALLELISM,
  PASSWORD_HASH_SCHEMES,
  SCRYPT_HASH_BYTES,
  SCRYPT_HASH_BYTES_RANGE,
  SCRYPT_SALT_BYTES,
  SCRYPT_SALT_BYTES_RANGE,
  type PasswordHash,
  type PasswordHashScheme,
  type ScryptParams,
  formatScryptHash,
  isKongSha1Hash,
  kongSha1Input,
  parsePasswordHash,
  scryptMemoryBytes,
} from './plugins/basic-auth/password-hash.js';
export {
  type PluginSchema,
  HTTP_PROTOCOLS,
  PROTOCOLS_HTTP_FIELD,
  NO_CONSUMER_FIELD,
  HEADER_NAME_FIELD,
  HOST_FIELD,
  PORT_FIELD,
  TIMEOUT_FIELD_MS,
  PATH_FIELD,
  SNI_FIELD,
} from './plugins/plugin-schema.js';
export { preparePluginConfig, validatePluginConfig, completePluginConfig, type PluginConfigResult } from './plugins/plugin-config.js';
export { pluginSchemaToJson, pluginConfigSchemaToJson } from './plugins/plugin-schema-json.js';
export {
  RATE_LIMITING_SCHEMA,
  RATE_LIMITING_CONFIG_FIELD,
  REDIS_CONFIG_FIELD,
  RATE_LIMIT_PERIODS,
  RATE_LIMIT_BY,
  RATE_LIMIT_POLICIES,
  SYNC_RATE_REALTIME,
  DEFAULT_REDIS_TIMEOUT_MS,
  type RateLimitPeriod,
  type RateLimitBy,
  type RateLimitPolicy,
  type RateLimitingConfig,
  type RateLimitingRedisConfig,
} from './plugins/rate-limiting/schema.js';
export { KEY_AUTH_SCHEMA, type KeyAuthConfig } from './plugins/key-auth/schema.js';
export { BASIC_AUTH_SCHEMA, type BasicAuthConfig } from './plugins/basic-auth/schema.js';
export { ACL_PLUGIN_SCHEMA, type AclConfig } from './plugins/acl/schema.js';
export {
  DECLARATIVE_FORMAT_VERSION,
  LEGACY_FORMAT_VERSIONS,
  readDeclarativeDocument,
  writeDeclarativeDocument,
  derivedEntityId,
  formatDeclarativePath,
  type DeclarativeEntity,
  type DeclarativeError,
  type DeclarativeBaseline,
  type DeclarativeDocument,
  type DeclarativeReadResult,
  type ReadDeclarativeOptions,
} from './declarative/declarative-document.js';

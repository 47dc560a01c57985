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

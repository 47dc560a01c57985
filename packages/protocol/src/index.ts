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

/** @sluice/control-plane: store, Admin API and the control-plane process. */
export * from './errors.js';
export * from './store/index.js';
export * from './admin/index.js';
export * from './declarative/index.js';
export {
  ControlPlane,
  type ControlPlaneOptions,
  type ControlPlaneAddresses,
  type ListenAddress,
  DEFAULT_ADMIN_LISTEN,
  parseListenAddress,
  formatListenAddress,
  packageVersion,
} from './control-plane.js';
export { ClusterTls, ClusterMtlsMode, type ClusterTlsOptions, type ClusterTlsFiles } from './stream/cluster-tls.js';
export { ExpiredEntityJanitor, type ExpiredEntityJanitorOptions, DEFAULT_EXPIRY_SWEEP_INTERVAL_MS, DEFAULT_EXPIRY_SWEEP_BATCH } from './changes/expired-entity-janitor.js';
export { hashPassword } from './entities/credentials/hash-password.js';
export { generateKey, GENERATED_KEY_BYTES } from './entities/credentials/generate-key.js';

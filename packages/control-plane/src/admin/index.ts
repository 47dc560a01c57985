/** The Admin API's public surface. */
export {
  buildAdminApi,
  type AdminApiOptions,
  type AdminRequestObserver,
  type AdminRequestOutcome,
  type AdminApiLimits,
  type AdminTls,
  DEFAULT_ADMIN_API_LIMITS,
  DEFAULT_ADMIN_BODY_LIMIT_BYTES,
  DEFAULT_CONFIG_BODY_LIMIT_BYTES,
} from './admin-api.js';
export { AdminAuthenticator, presentedToken } from './admin-auth.js';
export { AdminTokenSet, ADMIN_ROLES, MIN_ADMIN_TOKEN_CHARS, MAX_ADMIN_TOKENS_FILE_BYTES, ENV_ADMIN_TOKEN_NAME, type AdminRole, type AdminIdentity } from './admin-tokens.js';
export { AUDIT_LOGGER_NAME } from './audit-log.js';
export { CONFIG_HASH_HEADER, planBody } from './config-endpoints.js';
export { registerEndpoint, sendWrite, type EndpointHandler, type EndpointMethod, type EndpointRouteOptions, CONFIG_VERSION_HEADER, CONFIG_EPOCH_HEADER, DEFAULT_ALLOWED_HEADERS } from './endpoint.js';
export {
  parsePageParams,
  pageResponse,
  encodeOffset,
  decodeOffset,
  escapeUri,
  type PageParams,
  type PageResponse,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
} from './pagination.js';
export { parseEntityKey } from './entity-key.js';
export { CorsPolicy, parseAllowedOrigin, CORS_PREFLIGHT_MAX_AGE_SECONDS, CORS_EXPOSED_HEADERS, type OriginKind } from './cors-policy.js';
export { MAX_FORM_ARGUMENTS, MAX_FORM_ARRAY_INDEX, MAX_BODY_DEPTH } from './request-limits.js';
export { ConfigOperations, type Written, type OperationsClock, type WriteInputOptions, type GetOptions, MAX_TTL_SECONDS } from './config-operations.js';
export { presentEntity } from './present-entity.js';
export type { NodeInfo } from './node-endpoints.js';
export { StaleReads, STALE_HEADER } from './stale-reads.js';

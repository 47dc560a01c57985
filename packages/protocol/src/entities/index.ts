/** Entity types, validation, defaults and normalisation shared by both planes. */
export * from './types.js';
export {
  type FieldError,
  type FieldErrors,
  ENTITY_ERRORS_KEY,
  VALIDATION_MESSAGES,
  schemaViolationMessage,
  formatLuaTable,
} from './field-errors.js';
export { type FieldSpec, type EntitySchema, validateField, isNonEmpty } from './field-spec.js';
export {
  isUuid,
  parseHost,
  type ParsedHost,
  validateUtf8Name,
  validateTag,
  validateHost,
  validateServicePath,
  validateRouteHost,
  validateRouterPath,
  validateWildcardHost,
  validateHeaderName,
  validateHttpMethod,
} from './field-validators.js';
export { normalizePath, removeDotSegments } from './normalize-path.js';
export { checkRouteRegex, compileRouteRegex } from './route-regex.js';
export { expandServiceUrl, type ServiceUrlFields } from './service-url.js';
export { WRITE_MODES, type WriteMode, type PrepareOptions, type PrepareResult } from './prepare-entity.js';
export { SERVICE_SCHEMA, prepareService, SERVICE_TIMEOUT_RANGE_MS, DEFAULT_SERVICE_TIMEOUT_MS } from './service-schema.js';
export { ROUTE_SCHEMA, prepareRoute } from './route-schema.js';

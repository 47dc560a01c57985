/** Entity types, validation, defaults and normalisation shared by both planes. */
export * from './types.js';
export {
  type FieldError,
  type FieldErrors,
  ENTITY_ERRORS_KEY,
  VALIDATION_MESSAGES,
  schemaViolationMessage,
  formatLuaTable,
  formatLuaPretty,
  addEntityError,
} from './field-errors.js';
export {
  type FieldSpec,
  type StringFieldSpec,
  type IntegerFieldSpec,
  type NumberFieldSpec,
  type BooleanFieldSpec,
  type ListFieldSpec,
  type MapFieldSpec,
  type ForeignFieldSpec,
  type RecordFieldSpec,
  type ShorthandFieldSpec,
  type PatternRule,
  type Subschemas,
  type EntitySchema,
  type OnDelete,
  ON_DELETE,
  isNonEmpty,
  fieldSpecOf,
  shorthandSpecOf,
} from './field-spec.js';
export { validateField } from './field-validation.js';
export { type EntityCheck, type ConditionalCheck, type FieldMatch, runEntityChecks } from './entity-checks.js';
export { type JsonValue, type JsonSchemaDocument, fieldToJson, fieldsToJson, entitySchemaToJson, entityChecksToJson } from './schema-json.js';
export {
  isUuid,
  parseHost,
  type ParsedHost,
  validateUtf8Name,
  validateUtf8String,
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
export { WRITE_MODES, type WriteMode, type PrepareOptions, type PrepareResult, type EntityHooks, schemaFor } from './prepare-entity.js';
export { withShorthandEcho } from './record-values.js';
export { SERVICE_SCHEMA, SERVICE_TIMEOUT_RANGE_MS, DEFAULT_SERVICE_TIMEOUT_MS, TAGS_FIELD, NAME_FIELD } from './service-schema.js';
export { ROUTE_SCHEMA } from './route-schema.js';
export { type BaseEntity, type EntityDefinition, type EntityDefinitionInput, type ForeignField, defineEntity, foreignFieldsOf, atLeastOneOf } from './entity-definition.js';
export {
  ENTITY_KINDS,
  type EntityKind,
  type EntityOf,
  type AnyEntity,
  ENTITIES,
  entityDefinition,
  isEntityKind,
  ENTITY_TYPE_BY_KIND,
  kindOfEntityType,
  entityTypeName,
  encodeEntity,
  decodeEntity,
  referrersOf,
  type Referrer,
} from './registry.js';
export {
  referencesOf,
  entityKey,
  ReferenceIndex,
  checkConsistency,
  type CountMap,
  type EntityReference,
  type ReferenceView,
  type ConsistencyError,
  type ReferenceChange,
} from './references.js';
export { EntityInterner } from './entity-interner.js';
export { SERVICES, encodeService, decodeService, prepareService } from './kinds/services.js';
export { ROUTES, encodeRoute, decodeRoute, prepareRoute } from './kinds/routes.js';
export { CONSUMERS, CONSUMER_SCHEMA, encodeConsumer, decodeConsumer } from './kinds/consumers.js';
export { PLUGINS, PLUGIN_SCHEMA, PLUGIN_PROTOCOLS, DEFAULT_PLUGIN_PROTOCOLS, pluginEntitySchema, encodePlugin, decodePlugin } from './kinds/plugins.js';
export {
  KEYAUTH_CREDENTIALS,
  BASICAUTH_CREDENTIALS,
  ACLS,
  KEYAUTH_CREDENTIAL_SCHEMA,
  BASICAUTH_CREDENTIAL_SCHEMA,
  ACL_SCHEMA,
  encodeKeyAuthCredential,
  decodeKeyAuthCredential,
  encodeBasicAuthCredential,
  decodeBasicAuthCredential,
  encodeAcl,
  decodeAcl,
} from './kinds/credentials.js';

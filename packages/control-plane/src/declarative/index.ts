/** Declarative configuration: export, import plan, and the text formats. */
export { DeclarativeConfigService, configHashOf, type ImportResult, type DeclarativeClock } from './declarative-config-service.js';
export { planImport, applyImportPlan, IMPORT_OPERATIONS, type ImportOperation, type ImportPlan, type PlannedChange } from './import-plan.js';
export {
  parseDeclarativeText,
  formatDeclarativeText,
  formatOfFileName,
  DECLARATIVE_TEXT_FORMATS,
  YAML_MEDIA_TYPES,
  type DeclarativeTextFormat,
} from './declarative-text.js';

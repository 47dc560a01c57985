import { decodeEntity, kindOfEntityType, prepareRoute, prepareService, schemaViolationMessage, type EntityKind, type Route, type Service } from '@sluice/protocol';
import { ResourceErrorCode, type ResourceErrorView } from '../errors.js';

/** Most per-entity errors one refusal carries (default 100): keeps a NACK frame small whatever the batch. */
export const MAX_RESOURCE_ERRORS = 100;

/** A decoded, validated entity of a batch, with its exact payload bytes. */
export type CheckedEntity =
  | { readonly kind: 'services'; readonly type: number; readonly id: string; readonly version: number; readonly payload: Uint8Array; readonly entity: Service }
  | { readonly kind: 'routes'; readonly type: number; readonly id: string; readonly version: number; readonly payload: Uint8Array; readonly entity: Route };

/** Collects per-entity errors up to `MAX_RESOURCE_ERRORS`, counting the rest. */
export class ResourceErrorList {
  readonly items: ResourceErrorView[] = [];
  /** Errors seen, including those beyond the bound. */
  count = 0;

  add(type: number, kind: EntityKind | undefined, id: string, code: ResourceErrorCode, message: string): void {
    this.count++;
    if (this.items.length < MAX_RESOURCE_ERRORS) this.items.push({ type, kind, id, code, message });
  }

  has(code: ResourceErrorCode): boolean {
    return this.items.some((e) => e.code === code);
  }

  /** A one-line summary: the first error, and how many more. */
  summary(): string {
    if (this.count === 0) return 'no errors';
    const first = this.items[0];
    const more = this.count > 1 ? ` (and ${this.count - 1} more)` : '';
    return `${first.kind ?? `type ${first.type}`}/${first.id}: ${first.message}${more}`;
  }
}

/**
 * Decodes and validates one wire resource: known type, decodable payload, payload id equal to the
 * resource id, and Kong's schema rules (from `@sluice/protocol`, the same validator the control
 * plane runs before commit). Returns the checked entity, or records why not and returns undefined.
 */
export function checkResource(
  resource: { type?: number | null; id?: string | null; version?: number | null; payload?: Uint8Array | null },
  errors: ResourceErrorList,
  isSchemaChecked = false,
): CheckedEntity | undefined {
  const type = resource.type ?? 0;
  const id = resource.id ?? '';
  const kind = kindOfEntityType(type);
  if (kind === undefined) {
    errors.add(type, undefined, id, ResourceErrorCode.UNKNOWN_TYPE, `unknown entity type ${type}`);
    return undefined;
  }
  const payload = resource.payload ?? new Uint8Array(0);
  let entity: Service | Route;
  try {
    entity = decodeEntity(kind, payload);
  } catch (cause) {
    errors.add(type, kind, id, ResourceErrorCode.DECODE, (cause as Error).message);
    return undefined;
  }
  if (entity.id !== id) {
    errors.add(type, kind, id, ResourceErrorCode.ID_MISMATCH, `payload id ${JSON.stringify(entity.id)} differs from resource id`);
    return undefined;
  }
  // Entities this very build validated before caching them (see ConfigCache) skip Kong's schema
  // rules; everything else about them (decoding, identity, references, router, hash) is checked.
  const invalid = isSchemaChecked ? null : validateEntity(kind, entity);
  if (invalid !== null) {
    errors.add(type, kind, id, ResourceErrorCode.INVALID, invalid);
    return undefined;
  }
  const version = Number(resource.version ?? 0);
  return kind === 'services'
    ? { kind, type, id, version, payload, entity: entity as Service }
    : { kind, type, id, version, payload, entity: entity as Route };
}

/** Kong's schema rules for one entity: the schema-violation message, or null when valid. */
export function validateEntity(kind: EntityKind, entity: Service | Route): string | null {
  // `replace` mode with the entity's own id and timestamps: every field is present, so no default
  // applies and the result is a pure check of Kong's field rules and entity checks.
  const options = { mode: 'replace' as const, existing: null, now: entity.updated_at, newId: entity.id };
  const result = kind === 'services' ? prepareService(entity, options) : prepareRoute(entity, options);
  return result.ok ? null : schemaViolationMessage(result.errors);
}

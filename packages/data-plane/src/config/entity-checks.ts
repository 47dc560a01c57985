import {
  checkConsistency,
  decodeEntity,
  ENTITY_TYPE_BY_KIND,
  entityDefinition,
  entityKey,
  kindOfEntityType,
  referrersOf,
  schemaViolationMessage,
  type AnyEntity,
  type EntityInterner,
  type EntityKind,
  type EntityTypes,
  type ReferenceChange,
  type ReferenceView,
} from '@sluice/protocol';
import { ResourceErrorCode, type ResourceErrorView } from '../errors.js';

/** Most per-entity errors one refusal carries (default 100): keeps a NACK frame small whatever the batch. */
export const MAX_RESOURCE_ERRORS = 100;

/** A decoded, validated entity of a batch, with its exact payload bytes (a union over the kinds `K`). */
export type CheckedEntity<K extends EntityKind = EntityKind> = {
  readonly [P in K]: { readonly kind: P; readonly type: number; readonly id: string; readonly version: number; readonly payload: Uint8Array; readonly entity: EntityTypes[P] };
}[K];

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
 * The entity is decoded with `shared` (one interner per batch: the values entities repeat are held
 * once, frozen), and the checked `id` is the entity's own id string, so a resource holds no copy.
 */
export function checkResource(
  resource: { type?: number | null; id?: string | null; version?: number | null; payload?: Uint8Array | null },
  errors: ResourceErrorList,
  isSchemaChecked = false,
  shared?: EntityInterner,
): CheckedEntity | undefined {
  const type = resource.type ?? 0;
  const id = resource.id ?? '';
  const kind = kindOfEntityType(type);
  if (kind === undefined) {
    errors.add(type, undefined, id, ResourceErrorCode.UNKNOWN_TYPE, `unknown entity type ${type}`);
    return undefined;
  }
  const payload = resource.payload ?? new Uint8Array(0);
  let entity: AnyEntity;
  try {
    entity = decodeEntity(kind, payload, shared);
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
  // `decodeEntity(kind, …)` gave the entity of `kind`; the union cannot say so for a union `kind`.
  return { kind, type, id: entity.id, version, payload, entity } as CheckedEntity;
}

/** Kong's schema rules for one entity of `kind` (its definition's `prepare`): the schema-violation message, or null when valid. */
export function validateEntity<K extends EntityKind>(kind: K, entity: EntityTypes[K]): string | null {
  // `replace` mode with the entity's own id and timestamps: every field is present, so no default
  // applies and the result is a pure check of Kong's field rules and entity checks.
  const options = { mode: 'replace' as const, existing: null, now: entity.updated_at, newId: entity.id };
  const result = entityDefinition(kind).prepare(entity, options);
  return result.ok ? null : schemaViolationMessage(result.errors);
}

/** What the reference view reads of a config: whether a `kind/id` key is held, and the entities by kind. */
export interface ReferenceSource {
  hasKey(key: string): boolean;
  referrerCount(kind: string, id: string): number;
  entitiesOf(kind: EntityKind): Iterable<AnyEntity>;
}

/**
 * The consistency check's view of a resulting config (protocol's `ReferenceView`): `has` and
 * `referrerCount` are O(1) lookups; `referrers`, asked only for a refused removal, scans the
 * referencing kinds' entities.
 */
export function referenceView(source: ReferenceSource): ReferenceView {
  return {
    has: (kind, id) => source.hasKey(entityKey(kind, id)),
    referrerCount: (kind, id) => source.referrerCount(kind, id),
    *referrers(kind, id) {
      for (const referrer of referrersOf(kind)) {
        for (const entity of source.entitiesOf(referrer.kind)) {
          const ref = (entity as unknown as Record<string, { id?: unknown } | null>)[referrer.field];
          if (ref?.id === id) yield { kind: referrer.kind, id: entity.id };
        }
      }
    },
  };
}

/**
 * Runs protocol's `checkConsistency` on a change against the view of its result and records each
 * finding as a `DANGLING_REF` error of the entity at fault (the referencing one). True when consistent.
 */
export function checkReferences(change: ReferenceChange, view: ReferenceView, errors: ResourceErrorList): boolean {
  const found = checkConsistency(change, view);
  for (const e of found) errors.add(ENTITY_TYPE_BY_KIND[e.kind], e.kind, e.id, ResourceErrorCode.DANGLING_REF, e.message);
  return found.length === 0;
}

/**
 * References between entities, derived from the schemas' foreign fields, and the one consistency
 * check every plane runs on a change: the control plane inside a write before it commits, the data
 * plane on every snapshot and delta, the declarative loader on its file (go-control-plane's
 * `Snapshot.Consistent()`).
 *
 * A config is consistent when every reference points at an entity of the config. Checked per
 * change, that is: every upserted entity's references exist in the result, and no removed entity
 * is still referenced in the result. With a {@link ReferenceIndex} (referrer counts by referenced
 * entity) both questions are O(1), so a change costs O(changed entities), whatever the config size.
 */
import type { EntityDefinition } from './entity-definition.js';
import { ENTITIES, isEntityKind, referrersOf, type AnyEntity, type EntityKind } from './registry.js';

/** One reference an entity makes: its field, the referenced kind and id. */
export interface EntityReference {
  readonly field: string;
  readonly reference: string;
  readonly id: string;
}

/** The references an entity of `kind` makes (its non-null foreign fields), in schema order. */
export function referencesOf(kind: EntityKind, entity: AnyEntity): EntityReference[] {
  const out: EntityReference[] = [];
  const def = ENTITIES[kind] as EntityDefinition;
  for (const f of def.foreignFields) {
    const ref = (entity as unknown as Record<string, unknown>)[f.field] as { id?: unknown } | null | undefined;
    if (ref && typeof ref.id === 'string') out.push({ field: f.field, reference: f.reference, id: ref.id });
  }
  return out;
}

/** The two parts `entityKey` joins, reused: the key is made without any other allocation. */
const KEY_PARTS: [string, string] = ['', ''];

/** The key of an entity in reference counts and resource maps: `kind/id`. */
export function entityKey(kind: string, id: string): string {
  // Made as one flat string: `kind + '/' + id` is a concatenation V8 keeps as a 32-byte node over
  // its flattened copy, once per key held (a config holds one key per entity, in several maps).
  KEY_PARTS[0] = kind;
  KEY_PARTS[1] = id;
  return KEY_PARTS.join('/');
}


/** The persistent map a {@link ReferenceIndex} keeps its counts in (the data plane's `ImmutableMap` is one). */
export interface CountMap {
  get(key: string): number | undefined;
  set(key: string, value: number): CountMap;
  delete(key: string): CountMap;
}

/**
 * How many entities reference each entity (`kind/id` → count), immutable: {@link withChanges}
 * returns a new index sharing structure with this one, in O(changed entities).
 */
export class ReferenceIndex {
  readonly #counts: CountMap;

  constructor(counts: CountMap) {
    this.#counts = counts;
  }

  /** How many entities reference `kind/id`. */
  count(kind: string, id: string): number {
    return this.#counts.get(entityKey(kind, id)) ?? 0;
  }

  /** The index after replacing `before` entities (removed or overwritten) by `after` ones. */
  withChanges(before: Iterable<{ kind: EntityKind; entity: AnyEntity }>, after: Iterable<{ kind: EntityKind; entity: AnyEntity }>): ReferenceIndex {
    let counts = this.#counts;
    const step = (kind: EntityKind, entity: AnyEntity, by: 1 | -1) => {
      for (const ref of referencesOf(kind, entity)) {
        const key = entityKey(ref.reference, ref.id);
        const n = (counts.get(key) ?? 0) + by;
        counts = n > 0 ? counts.set(key, n) : counts.delete(key);
      }
    };
    for (const { kind, entity } of before) step(kind, entity, -1);
    for (const { kind, entity } of after) step(kind, entity, 1);
    return counts === this.#counts ? this : new ReferenceIndex(counts);
  }
}

/** What the consistency check asks of a config: the state after the change. */
export interface ReferenceView {
  /** True when the result holds `kind/id`. */
  has(kind: string, id: string): boolean;
  /** How many entities of the result reference `kind/id`. */
  referrerCount(kind: string, id: string): number;
  /**
   * The entities of the result that reference `kind/id` through the referrer field. Asked only
   * for a refused removal, to name the offenders; may be O(config).
   */
  referrers(kind: string, id: string): Iterable<{ kind: EntityKind; id: string }>;
}

/** Why a change leaves the config inconsistent. */
export type ConsistencyError =
  /** An entity references one that does not exist (Kong: code 4 on insert/update). */
  | { readonly type: 'dangling'; readonly kind: EntityKind; readonly id: string; readonly field: string; readonly reference: string; readonly referencedId: string; readonly message: string }
  /** A removed entity is still referenced (Kong: code 4, `@referenced_by`); reported on each referrer. */
  | { readonly type: 'referenced'; readonly kind: EntityKind; readonly id: string; readonly removedKind: string; readonly removedId: string; readonly message: string };

/** A change as the consistency check sees it. */
export interface ReferenceChange {
  readonly upserts: Iterable<{ readonly kind: EntityKind; readonly entity: AnyEntity }>;
  readonly removals: Iterable<{ readonly kind: EntityKind; readonly id: string }>;
}

function singular(kind: string): string {
  return isEntityKind(kind) ? ENTITIES[kind].singular : kind.replace(/s$/, '');
}

/**
 * The consistency check (see the module comment): the errors of a change against the state after
 * it, at most `limit` of them (default unbounded). Empty when the result is consistent.
 */
export function checkConsistency(change: ReferenceChange, view: ReferenceView, limit = Infinity): ConsistencyError[] {
  const errors: ConsistencyError[] = [];
  for (const { kind, entity } of change.upserts) {
    for (const ref of referencesOf(kind, entity)) {
      if (view.has(ref.reference, ref.id)) continue;
      errors.push({
        type: 'dangling',
        kind,
        id: entity.id,
        field: ref.field,
        reference: ref.reference,
        referencedId: ref.id,
        message: `${singular(ref.reference)} ${ref.id} does not exist`,
      });
      if (errors.length >= limit) return errors;
    }
  }
  for (const { kind, id } of change.removals) {
    if (referrersOf(kind).length === 0 || view.referrerCount(kind, id) === 0) continue;
    for (const referrer of view.referrers(kind, id)) {
      errors.push({
        type: 'referenced',
        kind: referrer.kind,
        id: referrer.id,
        removedKind: kind,
        removedId: id,
        message: `${singular(kind)} ${id} is removed but still referenced`,
      });
      if (errors.length >= limit) return errors;
    }
  }
  return errors;
}

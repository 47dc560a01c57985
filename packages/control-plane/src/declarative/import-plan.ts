/**
 * What a declarative import changes: the difference between the stored configuration and the one a
 * file describes, entity by entity (created, updated with the fields that differ, deleted because
 * the file leaves it out), and how to write it in one transaction without tripping a constraint on
 * the way. Pure apart from {@link applyImportPlan}, which writes through a {@link ConfigWriter}.
 */
import { isDeepStrictEqual } from 'node:util';
import { type AnyEntity, type DeclarativeEntity, ENTITIES, ENTITY_KINDS, type EntityKind } from '@sluice/protocol';
import type { ConfigWriter, EntitiesByKind } from '../store/index.js';

/** The operations of a plan. */
export const IMPORT_OPERATIONS = ['create', 'update', 'delete'] as const;
export type ImportOperation = (typeof IMPORT_OPERATIONS)[number];

/** One entity a plan changes. */
export interface PlannedChange {
  readonly kind: EntityKind;
  readonly op: ImportOperation;
  readonly id: string;
  /** Its endpoint key value (`name`, `username`), when it has one: how people recognise it. */
  readonly name: string | null;
  /** For an update: the fields whose values differ (timestamps left out), in schema order. */
  readonly fields: readonly string[];
  /** The stored entity (null for a create). */
  readonly before: AnyEntity | null;
  /** The entity after the import (null for a delete). */
  readonly after: AnyEntity | null;
}

/** A whole plan: every change in registry order (creates, updates, then deletes of each kind). */
export interface ImportPlan {
  readonly changes: readonly PlannedChange[];
  readonly counts: { readonly [O in ImportOperation]: number };
}

const TIMESTAMPS: ReadonlySet<string> = new Set(['created_at', 'updated_at']);

function nameOf(kind: EntityKind, entity: AnyEntity): string | null {
  const key = ENTITIES[kind].endpointKey;
  const value = key === null ? null : (entity as unknown as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : null;
}

/** The fields of `after` that differ from `before`, timestamps left out. */
function changedFields(before: AnyEntity, after: AnyEntity): string[] {
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return Object.keys(b).filter((f) => !TIMESTAMPS.has(f) && !isDeepStrictEqual(a[f], b[f]));
}

/** The plan that turns `current` into the `desired` entities (a file read with `current` as its baseline). */
export function planImport(current: EntitiesByKind, desired: readonly DeclarativeEntity[]): ImportPlan {
  const wanted = new Map<EntityKind, Map<string, AnyEntity>>(ENTITY_KINDS.map((k) => [k, new Map()]));
  for (const { kind, entity } of desired) wanted.get(kind)!.set(entity.id, entity);
  const changes: PlannedChange[] = [];
  for (const kind of ENTITY_KINDS) {
    const stored = new Map<string, AnyEntity>((current[kind] as AnyEntity[]).map((e) => [e.id, e]));
    const updates: PlannedChange[] = [];
    for (const [id, after] of wanted.get(kind)!) {
      const before = stored.get(id);
      if (before === undefined) changes.push({ kind, op: 'create', id, name: nameOf(kind, after), fields: [], before: null, after });
      else if (!isDeepStrictEqual(before, after)) updates.push({ kind, op: 'update', id, name: nameOf(kind, after), fields: changedFields(before, after), before, after });
    }
    changes.push(...updates);
    for (const [id, before] of stored) {
      if (!wanted.get(kind)!.has(id)) changes.push({ kind, op: 'delete', id, name: nameOf(kind, before), fields: [], before, after: null });
    }
  }
  const counts = { create: 0, update: 0, delete: 0 };
  for (const c of changes) counts[c.op]++;
  return { changes, counts };
}

/**
 * Writes a plan inside the caller's transaction, in an order no constraint refuses midway:
 * 1. a stored entity about to be rewritten or deleted whose unique value (a `name`) the file gives
 *    to another entity is parked (`ConfigWriter.park`), so the value is free;
 * 2. creates and updates, kind by kind in registry order (a referenced kind before its referrers);
 * 3. deletes, in reverse registry order (referrers before what they reference), without cascade:
 *    the plan lists every entity the file leaves out.
 * Every write is batched; the change log gets one row per entity.
 */
export async function applyImportPlan(writer: ConfigWriter, plan: ImportPlan): Promise<void> {
  for (const kind of ENTITY_KINDS) {
    const owners = new Map<string, Map<unknown, string>>(ENTITIES[kind].uniqueFields.map((f) => [f, new Map()]));
    const leaving: AnyEntity[] = [];
    for (const c of plan.changes) {
      if (c.kind !== kind) continue;
      if (c.after !== null) for (const [field, owner] of owners) owner.set((c.after as unknown as Record<string, unknown>)[field], c.id);
      if (c.before !== null) leaving.push(c.before);
    }
    for (const [field, owner] of owners) {
      const parked = leaving.filter((e) => {
        const value = (e as unknown as Record<string, unknown>)[field];
        const next = typeof value === 'string' ? owner.get(value) : undefined;
        return next !== undefined && next !== e.id;
      });
      if (parked.length > 0) await writer.park(kind, field, parked.map((e) => e.id));
    }
  }
  for (const kind of ENTITY_KINDS) {
    const written = plan.changes.filter((c) => c.kind === kind && c.after !== null).map((c) => c.after!);
    await writer.upsertMany(kind, written as never[]);
  }
  for (const kind of [...ENTITY_KINDS].reverse()) {
    const deleted = plan.changes.filter((c) => c.kind === kind && c.op === 'delete').map((c) => c.id);
    if (deleted.length > 0) await writer.deleteMany(kind, deleted);
  }
}

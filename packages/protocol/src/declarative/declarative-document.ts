/**
 * Kong's declarative configuration format (`_format_version: "3.0"`, `kong/db/schema/others/declarative_config.lua`)
 * read into entities of the registry: the one reader behind the control plane's `POST /config`
 * and the data plane's `--declarative-config`. Pure: no I/O, no clock (the caller passes `now`).
 *
 * A document has one top-level list per kind (`services`, `routes`, `consumers`, …), as Kong's
 * DB-less export writes it; an entity may also nest entities of a kind it is the parent of
 * (`services[].routes[]`, `consumers[].acls[]`, as decK writes), which then take their parent from
 * where they are. A foreign field is `{id}`, `{<endpoint key>}` or a string (an endpoint key of an
 * entity of the document, else an id). Every entity goes through its kind's `prepare` (the Admin
 * API's rules); unique fields are unique across the document; every reference must point at an
 * entity of the document (the document is the whole configuration). Errors are collected, not
 * thrown: all of them, each saying which entity failed.
 *
 * Ids: an entity without an `id` takes the id of the baseline entity with the same endpoint key
 * (so re-importing a file without ids updates in place), else an id derived from its kind and
 * first unique field (or position), so the same file always gives the same ids. Timestamps given in
 * the file are kept (`created_at`, `updated_at`); otherwise an entity equal to its baseline keeps
 * the baseline's, and a new or changed one gets `now`.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { EntityDefinition } from '../entities/entity-definition.js';
import { type FieldErrors, formatLuaTable, schemaViolationMessage } from '../entities/field-errors.js';
import { isUuid } from '../entities/field-validators.js';
import { referencesOf } from '../entities/references.js';
import { type AnyEntity, ENTITIES, ENTITY_KINDS, type EntityKind, isEntityKind } from '../entities/registry.js';

/** The `_format_version` Sluice reads and writes (Kong 3.x). */
export const DECLARATIVE_FORMAT_VERSION = '3.0';

/**
 * Kong 1.x/2.x format versions. Not read: in 3.0 a route path is a regex only when it starts with
 * `~`, where 2.x guessed from its characters, so the same file would route differently.
 */
export const LEGACY_FORMAT_VERSIONS: readonly string[] = ['1.1', '2.1'];

/** One entity of a document, prepared (defaults filled, validated). */
export interface DeclarativeEntity {
  readonly kind: EntityKind;
  readonly entity: AnyEntity;
  /** Where it is in the document (`services[0].routes[2]`). */
  readonly where: string;
}

/** One fault of a document. */
export interface DeclarativeError {
  /** The kind of the faulty entity, or null for a fault of the document itself. */
  readonly kind: EntityKind | null;
  /** Where it is: `services[0].routes[2]`, or a top-level key (`_format_version`). */
  readonly where: string;
  /** The same as keys and indexes: `['services', 0, 'routes', 2]`. */
  readonly path: readonly (string | number)[];
  /** What is wrong, without the `where`. */
  readonly message: string;
  /** Kong's field errors, when the entity failed its schema. */
  readonly fields?: FieldErrors;
  /** The entity's id, when it has one (given or derived). */
  readonly entityId?: string;
  /** The entity's endpoint key value (`name`, `username`), when it has one. */
  readonly entityName?: string;
}

/** The configuration a document replaces, as the reader needs it. */
export interface DeclarativeBaseline {
  /** The stored entity with this id. */
  byId(kind: EntityKind, id: string): AnyEntity | undefined;
  /** The stored entity whose endpoint key (`name`, `username`) has this value. */
  byEndpointKey(kind: EntityKind, value: string): AnyEntity | undefined;
}

/** Options of {@link readDeclarativeDocument}. */
export interface ReadDeclarativeOptions {
  /** The time new and changed entities are stamped with, integer seconds since the epoch. */
  readonly nowSeconds: number;
  /** The stored configuration the document replaces (the control plane's); none for the data plane. */
  readonly baseline?: DeclarativeBaseline;
}

/** The outcome of {@link readDeclarativeDocument}: every entity in registry order, or every fault. */
export type DeclarativeReadResult =
  | { readonly ok: true; readonly entities: readonly DeclarativeEntity[]; readonly isTransformed: boolean }
  | { readonly ok: false; readonly errors: readonly DeclarativeError[] };

/** A name-derived UUID (v4-shaped, from sha256): entities without an id keep the same one across loads. */
export function derivedEntityId(kind: string, key: string): string {
  const h = createHash('sha256').update(`sluice-declarative\0${kind}\0${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `a.b[2].c` from `['a', 'b', 2, 'c']`. */
export function formatDeclarativePath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** A kind that nests under another (`services[].routes[]`): the child kind and its foreign field naming the parent. */
interface NestedKind {
  readonly kind: EntityKind;
  readonly field: string;
}

/** The kinds each kind nests (a child's `parents` whose foreign field references the kind), in registry order. */
const NESTED_KINDS: ReadonlyMap<EntityKind, readonly NestedKind[]> = (() => {
  const out = new Map<EntityKind, NestedKind[]>(ENTITY_KINDS.map((kind) => [kind, []]));
  for (const kind of ENTITY_KINDS) {
    for (const field of ENTITIES[kind].parents) {
      const reference = ENTITIES[kind].foreignFields.find((f) => f.field === field)!.reference;
      if (isEntityKind(reference)) out.get(reference)!.push({ kind, field });
    }
  }
  return out;
})();

/** One entity of the document waiting for its kind's turn: where it is, its input, and the parent it is nested in. */
interface PendingEntity {
  readonly path: readonly (string | number)[];
  readonly input: Record<string, unknown>;
  readonly parent?: { readonly field: string; readonly id: string };
}

/** The key an entity without an id derives its id from: its first unique field given (`name:x`), else its position. */
function identityKey(kind: EntityKind, data: Record<string, unknown>, index: number): string {
  const field = ENTITIES[kind].uniqueFields.find((f) => typeof data[f] === 'string');
  return field === undefined ? `index:${index}` : `${field}:${data[field] as string}`;
}

/** The entity without its `updated_at`, for "did it change" comparisons. */
function withoutUpdatedAt(entity: AnyEntity): Record<string, unknown> {
  const { updated_at: _updated, ...rest } = entity as unknown as Record<string, unknown>;
  return rest;
}

/** Checks `_format_version` and `_transform`; returns the faults. */
function checkHeader(document: Record<string, unknown>): DeclarativeError[] {
  const fault = (key: string, message: string): DeclarativeError => ({ kind: null, where: key, path: [key], message });
  const errors: DeclarativeError[] = [];
  const version = document._format_version;
  if (version === undefined || version === null) errors.push(fault('_format_version', 'required field missing'));
  else if (typeof version !== 'string') errors.push(fault('_format_version', 'expected a string'));
  else if (LEGACY_FORMAT_VERSIONS.includes(version)) {
    errors.push(
      fault(
        '_format_version',
        `format ${version} is Kong 1.x/2.x, whose route paths are regexes by guess; Sluice reads "${DECLARATIVE_FORMAT_VERSION}" (regex paths start with "~"): convert the file (deck file convert --from kong-gateway-2.x --to kong-gateway-3.x) and set _format_version: "${DECLARATIVE_FORMAT_VERSION}"`,
      ),
    );
  } else if (version !== DECLARATIVE_FORMAT_VERSION) errors.push(fault('_format_version', `expected one of: ${DECLARATIVE_FORMAT_VERSION}`));
  if (document._transform !== undefined && typeof document._transform !== 'boolean') errors.push(fault('_transform', 'expected a boolean'));
  return errors;
}

/** Reads a declarative document; see the module comment. */
export function readDeclarativeDocument(document: unknown, options: ReadDeclarativeOptions): DeclarativeReadResult {
  if (!isObject(document)) {
    return { ok: false, errors: [{ kind: null, where: '', path: [], message: 'a declarative config is an object: {_format_version: "3.0", services: [...], routes: [...]}' }] };
  }
  const errors: DeclarativeError[] = checkHeader(document);
  for (const key of Object.keys(document)) {
    if (!key.startsWith('_') && !isEntityKind(key)) errors.push({ kind: null, where: key, path: [key], message: `unknown top-level key ${JSON.stringify(key)}` });
  }
  for (const kind of ENTITY_KINDS) {
    if (document[kind] !== undefined && document[kind] !== null && !Array.isArray(document[kind])) {
      errors.push({ kind, where: kind, path: [kind], message: `${kind} must be an array` });
    }
  }
  const now = options.nowSeconds;
  const baseline = options.baseline;
  const pending = new Map<EntityKind, PendingEntity[]>(ENTITY_KINDS.map((kind) => [kind, []]));
  /** Per kind with an endpoint key: the id of each entity by that key, for foreign fields given by name. */
  const idByEndpointKey = new Map<EntityKind, Map<string, string>>();
  const prepared: DeclarativeEntity[] = [];

  // Kinds in registry order: a kind's references (and parents) are prepared before it.
  for (const kind of ENTITY_KINDS) {
    const def = ENTITIES[kind] as EntityDefinition<AnyEntity>;
    const list = pending.get(kind)!;
    const top = Array.isArray(document[kind]) ? (document[kind] as unknown[]) : [];
    top.forEach((raw, i) => {
      if (!isObject(raw)) errors.push({ kind, where: `${kind}[${i}]`, path: [kind, i], message: 'expected an object' });
      else list.push({ path: [kind, i], input: raw });
    });
    const nestedKinds = NESTED_KINDS.get(kind)!;
    const byKey = new Map<string, string>();
    const unique = new Map(def.uniqueFields.map((f) => [f, new Set<string>()]));
    list.forEach(({ path, input, parent }, i) => {
      const where = formatDeclarativePath(path);
      const name = def.endpointKey !== null && typeof input[def.endpointKey] === 'string' ? (input[def.endpointKey] as string) : undefined;
      const fail = (message: string, extra: { fields?: FieldErrors; entityId?: string } = {}) =>
        void errors.push({ kind, where, path, message, ...extra, ...(name === undefined ? {} : { entityName: name }) });
      const data: Record<string, unknown> = { ...input };
      for (const nested of nestedKinds) delete data[nested.kind];
      if (parent !== undefined) {
        if (data[parent.field] !== undefined && data[parent.field] !== null) return fail(`a nested ${def.singular} takes its ${parent.field} from its parent`);
        data[parent.field] = { id: parent.id };
      }
      for (const { field, reference } of def.foreignFields) {
        if (field === parent?.field || !isEntityKind(reference)) continue;
        const endpointKey = ENTITIES[reference].endpointKey;
        const value = data[field];
        let key: string | undefined;
        if (typeof value === 'string') key = value;
        else if (endpointKey !== null && isObject(value) && typeof value[endpointKey] === 'string' && value.id === undefined) key = value[endpointKey] as string;
        if (key === undefined) continue;
        const id = idByEndpointKey.get(reference)?.get(key) ?? (typeof value === 'string' && isUuid(value) ? value.toLowerCase() : undefined);
        if (id === undefined) return fail(`${ENTITIES[reference].singular} ${JSON.stringify(key)} does not exist`);
        data[field] = { id };
      }
      const givenId = typeof data.id === 'string' && isUuid(data.id) ? data.id.toLowerCase() : undefined;
      const keyField = def.endpointKey;
      const byName = givenId === undefined && keyField !== null && typeof data[keyField] === 'string' ? baseline?.byEndpointKey(kind, data[keyField] as string) : undefined;
      const id = givenId ?? byName?.id ?? derivedEntityId(kind, identityKey(kind, data, i));
      if (data.id === undefined) data.id = id;
      const existing = baseline?.byId(kind, id) ?? null;
      const result = def.prepare(data, { mode: 'replace', existing, now, newId: id });
      if (!result.ok) return fail(schemaViolationMessage(result.errors), { fields: result.errors, entityId: id });
      const entity = result.entity as unknown as Record<string, unknown>;
      if (typeof input.updated_at === 'number') entity.updated_at = input.updated_at;
      else if (existing !== null && isDeepStrictEqual(withoutUpdatedAt(result.entity), withoutUpdatedAt(existing))) entity.updated_at = existing.updated_at;
      for (const [field, seen] of unique) {
        const value = entity[field];
        if (typeof value !== 'string') continue;
        if (seen.has(value)) fail(`uniqueness violation: '${kind}' entity with ${field} set to '${value}' already declared`, { entityId: id });
        seen.add(value);
      }
      prepared.push({ kind, entity: result.entity, where });
      if (def.endpointKey !== null && typeof entity[def.endpointKey] === 'string') byKey.set(entity[def.endpointKey] as string, result.entity.id);
      for (const nested of nestedKinds) {
        const children = input[nested.kind];
        if (children === undefined || children === null) continue;
        if (!Array.isArray(children)) {
          errors.push({ kind: nested.kind, where: `${where}.${nested.kind}`, path: [...path, nested.kind], message: 'expected an array' });
          continue;
        }
        children.forEach((child, j) => {
          const childPath = [...path, nested.kind, j];
          if (!isObject(child)) errors.push({ kind: nested.kind, where: formatDeclarativePath(childPath), path: childPath, message: 'expected an object' });
          else pending.get(nested.kind)!.push({ path: childPath, input: child, parent: { field: nested.field, id: result.entity.id } });
        });
      }
    });
    idByEndpointKey.set(kind, byKey);
  }

  const ids = new Set<string>();
  for (const { kind, entity, where } of prepared) {
    const key = `${kind}/${entity.id}`;
    if (ids.has(key)) errors.push({ kind, where, path: [], message: `${ENTITIES[kind].singular} id ${entity.id} used twice`, entityId: entity.id, ...nameField(kind, entity) });
    ids.add(key);
  }
  for (const { kind, entity, where } of prepared) {
    for (const ref of referencesOf(kind, entity)) {
      if (!isEntityKind(ref.reference) || ids.has(`${ref.reference}/${ref.id}`)) continue;
      errors.push({
        kind,
        where,
        path: [],
        message: `${ref.field}: the foreign key '${formatLuaTable({ id: ref.id })}' does not reference an existing '${ref.reference}' entity.`,
        fields: { [ref.field]: `the foreign key '${formatLuaTable({ id: ref.id })}' does not reference an existing '${ref.reference}' entity.` },
        entityId: entity.id,
        ...nameField(kind, entity),
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors: errors.map((e) => (e.path.length > 0 || e.where === '' ? e : { ...e, path: parsePath(e.where) })) };
  return { ok: true, entities: prepared, isTransformed: document._transform !== false };
}

/** `{entityName}` when the entity's endpoint key has a value, else nothing. */
function nameField(kind: EntityKind, entity: AnyEntity): { entityName?: string } {
  const key = ENTITIES[kind].endpointKey;
  const value = key === null ? null : (entity as unknown as Record<string, unknown>)[key];
  return typeof value === 'string' ? { entityName: value } : {};
}

/** `['services', 0, 'routes', 2]` from `services[0].routes[2]`. */
function parsePath(where: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of where.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** A declarative document as Sluice writes it: Kong's flat DB-less export. */
export type DeclarativeDocument = { _format_version: string; _transform: false } & { [K in EntityKind]?: Record<string, unknown>[] };

/**
 * Writes entities as Kong's DB-less export does (`kong config db_export`, `kong/db/declarative/export.lua`):
 * `_format_version: "3.0"`, `_transform: false` (secrets such as basic-auth passwords are written
 * as stored, i.e. hashed, and read back as they are), one flat list per kind in registry order
 * (kinds without entities left out), foreign keys as the referenced id, and null fields left out
 * where reading the file back gives null again (a field whose default is not null keeps its null).
 * Reading the result with {@link readDeclarativeDocument} gives the same entities, timestamps
 * included, so the same config hash.
 */
export function writeDeclarativeDocument(entities: { readonly [K in EntityKind]?: readonly AnyEntity[] }): DeclarativeDocument {
  const out: DeclarativeDocument = { _format_version: DECLARATIVE_FORMAT_VERSION, _transform: false };
  for (const kind of ENTITY_KINDS) {
    const list = entities[kind];
    if (list === undefined || list.length === 0) continue;
    const def = ENTITIES[kind] as EntityDefinition<AnyEntity>;
    const foreign = new Set(def.foreignFields.map((f) => f.field));
    out[kind] = list.map((entity) => {
      const row: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(entity as unknown as Record<string, unknown>)) {
        if (value === null) {
          const spec = def.schema.fields[field];
          if (spec === undefined || spec.default === undefined || spec.default === null) continue;
          row[field] = null;
        } else if (foreign.has(field)) row[field] = (value as { id: string }).id;
        else row[field] = value;
      }
      return row;
    });
  }
  return out;
}

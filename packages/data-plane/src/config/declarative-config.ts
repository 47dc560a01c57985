import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import {
  ConfigHash,
  ENTITIES,
  ENTITY_KINDS,
  ENTITY_TYPE_BY_KIND,
  encodeEntity,
  isEntityKind,
  isUuid,
  schemaViolationMessage,
  type AnyEntity,
  type EntityDefinition,
  type EntityKind,
  type ResourceMessage,
} from '@sluice/protocol';
import { DeclarativeConfigError } from '../errors.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { applySnapshot } from './apply-snapshot.js';
import { ConfigOrigin, type RuntimeConfig } from './runtime-config.js';

/** The epoch a declarative config is served under (it never meets a control plane's epoch). */
export const DECLARATIVE_EPOCH = 'declarative';

/** Largest declarative config file read, in bytes (default 64 MiB). */
export const MAX_DECLARATIVE_CONFIG_BYTES = 64 * 1024 * 1024;

/** Most errors listed in one DeclarativeConfigError message (default 20). */
const MAX_LISTED_ERRORS = 20;

/** A name-derived UUID (v4-shaped, from sha256): entities without an id keep the same one across restarts. */
function derivedId(kind: string, key: string): string {
  const h = createHash('sha256').update(`sluice-declarative\0${kind}\0${key}`).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One entity of the document waiting for its kind's turn: where it is, its input, and the parent it is nested in. */
interface PendingEntity {
  readonly where: string;
  readonly input: Record<string, unknown>;
  readonly parent?: { readonly field: string; readonly id: string };
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

/** The key an entity without an id derives its id from: its first unique field given (`name:x`, `username:y`), else its position. */
function identityKey(kind: EntityKind, data: Record<string, unknown>, index: number): string {
  const field = ENTITIES[kind].uniqueFields.find((f) => typeof data[f] === 'string');
  return field === undefined ? `index:${index}` : `${field}:${data[field] as string}`;
}

/**
 * Builds a config from a declarative document in Kong's shape: one top-level list per entity kind
 * (`{ services: [...], routes: [...], consumers: [...] }`), where an entity may also nest the
 * entities of a kind it is the parent of (`services[].routes[]`, as in Kong's declarative format:
 * the nested entity takes its parent from where it is), and a foreign field may name the entity by
 * its endpoint key instead of its id (a route's `service` is `{id}`, `{name}` or a name). Defaults
 * are filled and every entity validated by its kind's definition (`prepare`, the Admin API's rules);
 * unique fields (a service's or route's `name`, a consumer's `username` and `custom_id`) are unique
 * across the document, with Kong's message. An entity without an id gets one derived from its first
 * unique field (or position), so restarts serve the same ids. `_format_version` and other
 * `_`-prefixed keys are ignored. Served as epoch `declarative`, version 1.
 *
 * Throws DeclarativeConfigError listing the faulty entities.
 */
export function buildDeclarativeConfig(document: unknown, options: { nowSeconds: number; plugins?: PluginRuntime }): RuntimeConfig {
  if (!isObject(document)) throw new DeclarativeConfigError('a declarative config is a JSON object {services: [...], routes: [...]}');
  for (const key of Object.keys(document)) {
    if (!key.startsWith('_') && !isEntityKind(key)) throw new DeclarativeConfigError(`unknown top-level key ${JSON.stringify(key)}`);
  }
  for (const kind of ENTITY_KINDS) {
    if (document[kind] !== undefined && !Array.isArray(document[kind])) throw new DeclarativeConfigError(`${kind} must be an array`);
  }

  const errors: string[] = [];
  const now = options.nowSeconds;
  const pending = new Map<EntityKind, PendingEntity[]>(ENTITY_KINDS.map((kind) => [kind, []]));
  /** Per kind with an endpoint key: the id of each entity by that key, for foreign fields given by name. */
  const idByEndpointKey = new Map<EntityKind, Map<string, string>>();
  const prepared: { kind: EntityKind; entity: AnyEntity }[] = [];

  // Kinds in registry order: a kind's references (and parents) are prepared before it.
  for (const kind of ENTITY_KINDS) {
    const def = ENTITIES[kind] as EntityDefinition<AnyEntity>;
    const list = pending.get(kind)!;
    ((document[kind] ?? []) as unknown[]).forEach((raw, i) => {
      if (!isObject(raw)) errors.push(`${kind}[${i}]: expected an object`);
      else list.push({ where: `${kind}[${i}]`, input: raw });
    });
    const nestedKinds = NESTED_KINDS.get(kind)!;
    const byKey = new Map<string, string>();
    const unique = new Map(def.uniqueFields.map((f) => [f, new Set<string>()]));
    list.forEach(({ where, input, parent }, i) => {
      const data = { ...input };
      for (const nested of nestedKinds) delete data[nested.kind];
      if (parent !== undefined) {
        if (data[parent.field] !== undefined) return void errors.push(`${where}: a nested ${def.singular} takes its ${parent.field} from its parent`);
        data[parent.field] = { id: parent.id };
      }
      for (const { field, reference } of def.foreignFields) {
        if (field === parent?.field || !isEntityKind(reference)) continue;
        const endpointKey = ENTITIES[reference].endpointKey;
        const value = data[field];
        if (endpointKey === null) continue;
        const key = typeof value === 'string' ? value : isObject(value) && typeof value[endpointKey] === 'string' && value.id === undefined ? (value[endpointKey] as string) : undefined;
        if (key === undefined) continue;
        const id = idByEndpointKey.get(reference)?.get(key);
        if (id === undefined) return void errors.push(`${where}: ${ENTITIES[reference].singular} ${JSON.stringify(key)} does not exist`);
        data[field] = { id };
      }
      const result = def.prepare(data, { mode: 'create', now, newId: derivedId(kind, identityKey(kind, data, i)) });
      if (!result.ok) return void errors.push(`${where}: ${schemaViolationMessage(result.errors)}`);
      const entity = result.entity as unknown as Record<string, unknown>;
      for (const [field, seen] of unique) {
        const value = entity[field];
        if (typeof value !== 'string') continue;
        if (seen.has(value)) errors.push(`${where}: uniqueness violation: '${kind}' entity with ${field} set to '${value}' already declared`);
        seen.add(value);
      }
      prepared.push({ kind, entity: result.entity });
      if (def.endpointKey !== null && typeof entity[def.endpointKey] === 'string') byKey.set(entity[def.endpointKey] as string, result.entity.id);
      for (const nested of nestedKinds) {
        const children = input[nested.kind];
        if (children === undefined) continue;
        if (!Array.isArray(children)) {
          errors.push(`${where}.${nested.kind}: expected an array`);
          continue;
        }
        children.forEach((child, j) => {
          if (!isObject(child)) errors.push(`${where}.${nested.kind}[${j}]: expected an object`);
          else pending.get(nested.kind)!.push({ where: `${where}.${nested.kind}[${j}]`, input: child, parent: { field: nested.field, id: result.entity.id } });
        });
      }
    });
    idByEndpointKey.set(kind, byKey);
  }

  const seen = new Set<string>();
  for (const { kind, entity } of prepared) {
    if (!isUuid(entity.id)) continue;
    if (seen.has(`${kind}/${entity.id}`)) errors.push(`${kind} ${entity.id}: id used twice`);
    seen.add(`${kind}/${entity.id}`);
  }
  if (errors.length > 0) throw declarativeError(errors);

  const hash = new ConfigHash();
  const upserts: ResourceMessage[] = [];
  for (const { kind, entity } of prepared) {
    const payload = encodeEntity(kind, entity);
    hash.set(kind, entity.id, payload);
    upserts.push({ type: ENTITY_TYPE_BY_KIND[kind], id: entity.id, version: 1, payload });
  }
  const result = applySnapshot({ upserts, removals: [] }, { epoch: DECLARATIVE_EPOCH, version: 1, hash: hash.bytes() }, { source: ConfigOrigin.DECLARATIVE, plugins: options.plugins });
  if (!result.ok) {
    throw declarativeError(result.error.resourceErrors.map((e) => `${e.kind ?? e.type} ${e.id}: ${e.message}`).concat(result.error.resourceErrors.length ? [] : [result.error.message]));
  }
  return result.config;
}

function declarativeError(errors: string[]): DeclarativeConfigError {
  const more = errors.length > MAX_LISTED_ERRORS ? `; and ${errors.length - MAX_LISTED_ERRORS} more` : '';
  return new DeclarativeConfigError(`invalid declarative config: ${errors.slice(0, MAX_LISTED_ERRORS).join('; ')}${more}`);
}

/**
 * Reads, parses and builds a declarative config file (JSON). Timestamps are the file's mtime, so
 * the same file always gives the same config hash. `plugins`: the plugins this data plane runs
 * (default every bundled one). Throws DeclarativeConfigError.
 */
export async function loadDeclarativeConfig(path: string, options: { plugins?: PluginRuntime } = {}): Promise<RuntimeConfig> {
  let text: string;
  let mtimeSeconds: number;
  try {
    const info = await stat(path);
    if (info.size > MAX_DECLARATIVE_CONFIG_BYTES) throw new Error(`${info.size} bytes exceeds the limit of ${MAX_DECLARATIVE_CONFIG_BYTES} bytes`);
    mtimeSeconds = Math.floor(info.mtimeMs / 1000);
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DeclarativeConfigError(`cannot read declarative config ${path}: ${(cause as Error).message}`, { cause });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (cause) {
    throw new DeclarativeConfigError(`declarative config ${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return buildDeclarativeConfig(document, { nowSeconds: mtimeSeconds, plugins: options.plugins });
}

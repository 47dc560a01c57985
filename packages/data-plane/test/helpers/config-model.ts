/**
 * A tiny stand-in for the control plane's config state in tests: entities keyed by kind/id with
 * their exact payload bytes, versioned, from which snapshots and coalesced deltas are cut exactly
 * as docs/protocol.md describes (a delta carries last-write-wins upserts and removals).
 */
import { createHash } from 'node:crypto';
import {
  ConfigHash,
  CONSUMERS,
  ENTITIES,
  ENTITY_KINDS,
  ENTITY_TYPE_BY_KIND,
  encodeEntity,
  kindOfEntityType,
  prepareRoute,
  prepareService,
  type AnyEntity,
  type Consumer,
  type EntityKind,
  type ResourceBatchMessage,
  type ResourceMessage,
  type Route,
  type Service,
} from '@sluice/protocol';

export const NOW = 1_700_000_000;

/** A deterministic UUID for test entity `label`. */
export function uuidFor(label: string): string {
  const x = createHash('sha256').update(label).digest('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-4${x.slice(13, 16)}-8${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

export function makeService(name: string, overrides: Record<string, unknown> = {}): Service {
  const result = prepareService({ name, host: `${name}.upstream.test`, port: 8080, ...overrides }, { mode: 'create', now: NOW, newId: uuidFor(`service:${name}`) });
  if (!result.ok) throw new Error(`bad test service: ${JSON.stringify(result.errors)}`);
  return result.entity;
}

export function makeRoute(name: string, serviceId: string | null, overrides: Record<string, unknown> = {}): Route {
  const result = prepareRoute(
    { name, paths: [`/${name}`], service: serviceId === null ? null : { id: serviceId }, ...overrides },
    { mode: 'create', now: NOW, newId: uuidFor(`route:${name}`) },
  );
  if (!result.ok) throw new Error(`bad test route: ${JSON.stringify(result.errors)}`);
  return result.entity;
}

export function makeConsumer(username: string | null, overrides: Record<string, unknown> = {}): Consumer {
  const result = CONSUMERS.prepare({ username, ...overrides }, { mode: 'create', now: NOW, newId: uuidFor(`consumer:${username ?? JSON.stringify(overrides)}`) });
  if (!result.ok) throw new Error(`bad test consumer: ${JSON.stringify(result.errors)}`);
  return result.entity;
}

/** The kind of an entity in Kong's shape: the kind whose schema has exactly the entity's fields. */
export function kindOf(entity: AnyEntity): EntityKind {
  const keys = Object.keys(entity).sort().join(',');
  const kind = ENTITY_KINDS.find((k) => Object.keys(ENTITIES[k].schema.fields).sort().join(',') === keys);
  if (kind === undefined) throw new Error(`not an entity of a known kind: ${keys}`);
  return kind;
}

export interface ModelResource {
  readonly type: number;
  readonly id: string;
  readonly version: number;
  readonly payload: Uint8Array;
}

/** A versioned config: the CP side of the tests. */
export class ConfigModel {
  epoch: string;
  version = 0;
  readonly entities = new Map<string, ModelResource>();
  readonly history = new Map<number, Map<string, ModelResource>>();

  constructor(epoch = 'epoch-test') {
    this.epoch = epoch;
    this.history.set(0, new Map());
  }

  /** Commits one version with the given changes. */
  commit(changes: { upsert?: AnyEntity[]; remove?: { kind: EntityKind; id: string }[] }): number {
    this.version++;
    for (const e of changes.upsert ?? []) {
      const kind = kindOf(e);
      const payload = encodeEntity(kind, e);
      this.entities.set(`${kind}/${e.id}`, { type: ENTITY_TYPE_BY_KIND[kind], id: e.id, version: this.version, payload });
    }
    for (const r of changes.remove ?? []) this.entities.delete(`${r.kind}/${r.id}`);
    this.history.set(this.version, new Map(this.entities));
    return this.version;
  }

  /** The hash of version `v` (default head). */
  hashAt(v = this.version): Uint8Array {
    const h = new ConfigHash();
    for (const r of this.history.get(v)!.values()) h.set(kindOfEntityType(r.type)!, r.id, r.payload);
    return h.bytes();
  }

  /** The snapshot batch of version `v` (default head). */
  snapshot(v = this.version): ResourceBatchMessage {
    return { upserts: [...this.history.get(v)!.values()].map((r) => ({ ...r })), removals: [] };
  }

  /** The coalesced delta batch from `from` to `to` (default head). */
  delta(from: number, to = this.version): ResourceBatchMessage {
    const a = this.history.get(from)!;
    const b = this.history.get(to)!;
    const upserts: ResourceMessage[] = [];
    const removals: { type: number; id: string }[] = [];
    for (const [k, r] of b) {
      const old = a.get(k);
      if (!old || old.version !== r.version) upserts.push({ ...r });
    }
    for (const [k, r] of a) if (!b.has(k)) removals.push({ type: r.type, id: r.id });
    return { upserts, removals };
  }
}

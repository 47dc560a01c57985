/**
 * Entity reads answered from the config mirror (this replica's copy of the config, at its last
 * version read from the change log): what the Admin API serves, marked stale, while the database
 * is unreachable. Every read the database answers can be answered here, with the same results at
 * the same version: lookups by id or unique field, pages in id order, `?tags=` filters (and/or),
 * and pages of one parent's children. Entities are decoded from the mirror's payloads once per
 * kind and version, and only when asked (during an outage).
 */
import { type AnyEntity, type EntityKind, type EntityOf, decodeEntity } from '@sluice/protocol';
import type { EntityKey, Page, PageQuery } from '../store/entity-repository.js';
import type { StaleEntitySource } from '../store/entity-read-source.js';
import type { ConfigMirror } from './config-mirror.js';

/** The entities of one kind, decoded at one version, in id order. */
interface DecodedKind {
  readonly epoch: string;
  readonly version: number;
  readonly entities: readonly AnyEntity[];
}

function fieldOf(entity: AnyEntity, field: string): unknown {
  return (entity as unknown as Record<string, unknown>)[field];
}

/** Whether `entity`'s `field` holds `value`: a foreign field by the id it references, a plain one by equality. */
function hasValue(entity: AnyEntity, field: string, value: string): boolean {
  const v = fieldOf(entity, field);
  if (typeof v === 'object' && v !== null && 'id' in v) return (v as { id: unknown }).id === value;
  return v === value;
}

function hasTags(entity: AnyEntity, filter: NonNullable<PageQuery['tags']>): boolean {
  const tags = fieldOf(entity, 'tags');
  const own = Array.isArray(tags) ? (tags as string[]) : [];
  return filter.mode === 'and' ? filter.tags.every((t) => own.includes(t)) : filter.tags.some((t) => own.includes(t));
}

/** See the module comment. */
export class MirrorEntityReader implements StaleEntitySource {
  readonly #mirror: ConfigMirror;
  readonly #decoded = new Map<EntityKind, DecodedKind>();

  constructor(mirror: ConfigMirror) {
    this.#mirror = mirror;
  }

  head(): { epoch: string; version: number } {
    return { epoch: this.#mirror.epoch, version: this.#mirror.version };
  }

  #entities(kind: EntityKind): readonly AnyEntity[] {
    const { epoch, version } = this.#mirror;
    const cached = this.#decoded.get(kind);
    if (cached && cached.epoch === epoch && cached.version === version) return cached.entities;
    const entities: AnyEntity[] = [];
    for (const r of this.#mirror.resources.values()) if (r.kind === kind) entities.push(decodeEntity(kind, r.payload) as AnyEntity);
    entities.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#decoded.set(kind, { epoch, version, entities });
    return entities;
  }

  async find<K extends EntityKind>(kind: K, key: EntityKey): Promise<EntityOf<K> | null> {
    if ('id' in key) {
      const r = this.#mirror.resources.get(`${kind}/${key.id.toLowerCase()}`);
      return r ? decodeEntity(kind, r.payload) : null;
    }
    return (this.#entities(kind).find((e) => fieldOf(e, key.field) === key.value) as EntityOf<K> | undefined) ?? null;
  }

  async page<K extends EntityKind>(kind: K, query: PageQuery): Promise<Page<EntityOf<K>>> {
    const out: EntityOf<K>[] = [];
    const tags = query.tags && query.tags.tags.length > 0 ? query.tags : null;
    for (const e of this.#entities(kind)) {
      if (query.afterId && e.id <= query.afterId) continue;
      if (query.where && !hasValue(e, query.where.field, query.where.value)) continue;
      if (tags && !hasTags(e, tags)) continue;
      out.push(e as EntityOf<K>);
      if (out.length > query.size) break;
    }
    return { data: out.slice(0, query.size), hasMore: out.length > query.size };
  }
}

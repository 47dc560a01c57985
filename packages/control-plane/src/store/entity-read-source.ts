import type { EntityKind, EntityOf } from '@sluice/protocol';
import type { EntityKey, Page, PageQuery } from './entity-repository.js';

/**
 * Reads of entities: what the Admin API asks of the store, and of the replica's in-memory config
 * when the database cannot answer (`changes/mirror-entity-reader.ts`). Declared as a shape so the
 * Admin API depends on behaviour, not on either class.
 */
export interface EntityReadSource {
  /** An entity by id or unique field, or `null`. */
  find<K extends EntityKind>(kind: K, key: EntityKey): Promise<EntityOf<K> | null>;
  /** A page of entities in id order. */
  page<K extends EntityKind>(kind: K, query: PageQuery): Promise<Page<EntityOf<K>>>;
}

/** An in-memory copy of the config that can answer reads: possibly behind the database. */
export interface StaleEntitySource extends EntityReadSource {
  /** The epoch and version of the config it holds. */
  head(): { epoch: string; version: number };
}

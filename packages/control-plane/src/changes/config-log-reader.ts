import type { AnyEntity, EntityKind, EntityOf } from '@sluice/protocol';

/** The head of the change log: which config is current, and how far back the log reaches. */
export interface ConfigHead {
  epoch: string;
  version: number;
  minRetainedVersion: number;
}

/** One row of the change log: an entity written or deleted at a version. */
export interface ConfigChange {
  version: number;
  seq: number;
  entityType: EntityKind;
  entityId: string;
  op: 'upsert' | 'delete';
  entity: AnyEntity | null;
}

/**
 * What the config mirror needs from the store: the subset of `Store` it reads. Declared here as a
 * shape so the mirror depends on behaviour, not on the store's class.
 */
export interface ConfigLogReader {
  readHead(): Promise<ConfigHead>;
  /** Changes with `afterVersion < version <= upToVersion`, ordered by (version, seq). */
  readChanges(afterVersion: number, upToVersion: number): Promise<ConfigChange[]>;
  /** The head and the changes after `afterVersion` up to it, read together (one round trip, one snapshot). */
  readHeadAndChanges(afterVersion: number): Promise<{ head: ConfigHead; changes: ConfigChange[] }>;
  /** The whole config and the head it corresponds to, read in one consistent snapshot. */
  loadSnapshot(): Promise<{ head: ConfigHead; entities: { [K in EntityKind]: EntityOf<K>[] } }>;
  /** Calls `listener` when a write commits, or with 0 when changes may have been missed (a hint; may be lost). Returns an unsubscribe function. */
  onConfigChange(listener: (version: number) => void): () => void;
}

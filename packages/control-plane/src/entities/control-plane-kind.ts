/** What the control plane adds to a registry kind: where it is stored, and Admin API extras. */
import type { AnyEntity, EntityKind, EntityOf, WriteMode } from '@sluice/protocol';
import type { EntityTable } from './entity-table.js';

/** A lookup by a unique field that answers `GET /{kind}` instead of a page (Kong's `/consumers?custom_id=x`). */
export interface ListLookup {
  readonly field: string;
  readonly value: string;
}

/** What a kind's write hooks know about the write. */
export interface KindWriteContext {
  readonly mode: WriteMode;
  /** The stored entity a PATCH merges into or a PUT replaces; null for a new entity. */
  readonly existing: Readonly<Record<string, unknown>> | null;
  /**
   * False when the input is already in stored form (an import; Kong's declarative
   * `_transform: false`): nothing is generated or hashed, stored forms are only checked.
   */
  readonly transform: boolean;
  /** The write time, integer seconds since the epoch. */
  readonly now: number;
}

/** What a write check reads, inside the write's transaction (the subset of the store's writer it needs). */
export interface WriteCheckReader {
  find<K extends EntityKind>(kind: K, key: { id: string }): Promise<EntityOf<K> | null>;
  /** Every entity of `kind` whose field has this value (a foreign field: the referenced id). */
  list<K extends EntityKind>(kind: K, where: { field: string; value: string }): Promise<EntityOf<K>[]>;
}

/** The write a check looks at. */
export interface WriteCheckContext {
  readonly mode: WriteMode;
  /** The request's input (a PATCH's fields only). */
  readonly input: Readonly<Record<string, unknown>>;
}

/** The control plane's side of one kind. */
export interface ControlPlaneKind {
  readonly table: EntityTable;
  /**
   * Reads the collection's query: a lookup to answer `{data: [entity], next: null}` with (empty
   * `data` when nothing matches), or undefined to page as usual. Throws an Admin API error for a
   * bad value.
   */
  readonly listLookup?: (query: Readonly<Record<string, unknown>>) => ListLookup | undefined;
  /**
   * Fills fields the control plane generates when the input omits them (Kong's `auto` fields:
   * key-auth's `key`), before validation. Returns the input to validate.
   */
  readonly fillInput?: (input: Readonly<Record<string, unknown>>, context: KindWriteContext) => Record<string, unknown>;
  /**
   * Turns valid input into its stored form (Kong's `transformations`: basic-auth hashes the
   * password), given the entity it validated to. Runs once per write, outside the transaction;
   * throws an Admin API error to refuse the write.
   */
  readonly transformInput?: (
    input: Readonly<Record<string, unknown>>,
    entity: Readonly<Record<string, unknown>>,
    context: KindWriteContext,
  ) => Promise<Record<string, unknown>>;
  /**
   * Stored fields the Admin API never shows, because Kong's entity has none (the credential kinds
   * have no `updated_at`). Default none.
   */
  readonly hiddenFields?: readonly string[];
  /**
   * Checks of an entity against others, run inside the write's transaction just before it is
   * written (Kong's DAO overrides, e.g. a plugin's protocols against its route's). Throws an Admin
   * API error to refuse the write.
   */
  readonly checkWrite?: (entity: AnyEntity, reader: WriteCheckReader, context: WriteCheckContext) => Promise<void>;
}

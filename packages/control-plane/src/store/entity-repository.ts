/**
 * Entities in their tables, for every kind of the registry: one generic repository instead of one
 * set of methods per kind. Reads run on the pool ({@link EntityReader}); writes run inside a store
 * transaction ({@link ConfigWriter}) and record each change for the change log.
 *
 * Deletes follow the schema's `on_delete`: referrers whose foreign field cascades are deleted first
 * (each recorded, so the data planes see every removal), referrers that restrict refuse the delete
 * with Kong's `@referenced_by` error. Before the transaction commits, {@link ConfigWriter.checkReferences}
 * runs the protocol's consistency check (the one the data plane runs on every push) over the
 * write's changes; the tables' foreign keys stay as the backstop for concurrent writers.
 */
import {
  type AnyEntity,
  ENTITIES,
  type EntityKind,
  type EntityOf,
  checkConsistency,
  entityKey,
  isEntityKind,
  referencesOf,
  referrersOf,
} from '@sluice/protocol';
import { type Kysely, type Transaction, sql } from 'kysely';
import { ENTITY_TABLES } from '../entities/kinds.js';
import { KongDaoError } from '../errors.js';
import type { Database } from './database.js';

/**
 * How to find an entity: by primary key, or by the value of one of its unique fields, or by a
 * field's value among the entities of one parent (`within`: an ACL's group of one consumer, a
 * composite unique key of the kind).
 */
export type EntityKey = { id: string } | { field: string; value: string; within?: { field: string; id: string } };

/** Options of a read. */
export interface ReadOptions {
  /**
   * Integer seconds since the epoch: an entity of a kind that expires (`expiresAtField`) whose
   * expiry is at or before this time is treated as absent. Omitted: expired rows are returned too.
   */
  aliveAt?: number;
}

/** A tag filter: every tag (`and`, `?tags=a,b`) or any tag (`or`, `?tags=a/b`). */
export interface TagFilter {
  mode: 'and' | 'or';
  tags: string[];
}

/** A page request: at most `size` rows with an id greater than `afterId`, in id order. */
export interface PageQuery {
  size: number;
  afterId?: string | null;
  tags?: TagFilter | null;
  /** Only entities whose field has this value: a foreign field (`service` = its id) or a plain one (`custom_id`). */
  where?: { field: string; value: string } | null;
  /** Leaves out entities expired at this time ({@link ReadOptions.aliveAt}). */
  aliveAt?: number;
}

/** A page of entities; `hasMore` is true when rows follow the last one. */
export interface Page<T> {
  data: T[];
  hasMore: boolean;
}

/** One change of a write: an entity written (the full entity after the write) or deleted. */
export interface EntityChange {
  entityType: EntityKind;
  entityId: string;
  op: 'upsert' | 'delete';
  entity: AnyEntity | null;
}

// Tables are chosen by kind at run time, so queries here are typed by hand (rows in, entities out).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/**
 * Most bind parameters one batched statement carries. PostgreSQL's wire protocol caps a statement
 * at 65,535, and embedded PGlite fails on messages far smaller (an INSERT … RETURNING of 2,500 routes),
 * so batches stay small (a 20-column table gets 500 rows per INSERT): the round trips are few anyway.
 */
export const MAX_BATCH_PARAMETERS = 10_000;

/** `items` in slices of at most `size`. */
function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  const step = Math.max(1, size);
  for (let i = 0; i < items.length; i += step) yield items.slice(i, i + step);
}

interface PgLikeError {
  code?: string;
  constraint?: string;
}

function pgError(err: unknown): PgLikeError {
  return typeof err === 'object' && err !== null ? (err as PgLikeError) : {};
}

/** A kind's table name, as a plain string: queries here are not typed per table. */
function tableOf(kind: EntityKind): string {
  return ENTITY_TABLES[kind].table;
}

/** The column conditions that select `key`. */
function keyFilter(kind: EntityKind, key: EntityKey): { column: string; value: string }[] {
  if ('id' in key) return [{ column: 'id', value: key.id.toLowerCase() }];
  const filter = [{ column: ENTITY_TABLES[kind].columnOf(key.field), value: key.value }];
  if (key.within) filter.push({ column: ENTITY_TABLES[kind].columnOf(key.within.field), value: key.within.id.toLowerCase() });
  return filter;
}

/** The condition "not expired at `aliveAt`" of a kind that expires, or null. */
function aliveCondition(kind: EntityKind, aliveAt: number | undefined) {
  const field = ENTITIES[kind].expiresAtField;
  if (aliveAt === undefined || field === null) return null;
  const column = sql.ref(ENTITY_TABLES[kind].columnOf(field));
  return sql<boolean>`(${column} is null or ${column} > ${aliveAt})`;
}

function toEntity<K extends EntityKind>(kind: K, row: Record<string, unknown>): EntityOf<K> {
  return ENTITY_TABLES[kind].fromRow(row) as unknown as EntityOf<K>;
}

function tagCondition(filter: TagFilter | null | undefined) {
  if (!filter || filter.tags.length === 0) return null;
  const tags = sql.val(filter.tags);
  return filter.mode === 'and' ? sql<boolean>`tags @> ${tags}::text[]` : sql<boolean>`tags && ${tags}::text[]`;
}

/** One tag of one entity, as Kong's `/tags` lists it. */
export interface TagRow {
  tag: string;
  /** The entity's kind (its table: `services`, `keyauth_credentials`). */
  entity_name: string;
  entity_id: string;
}

/** A page of {@link TagRow}s in `(tag, entity_name, entity_id)` order. */
export interface TagPageQuery {
  size: number;
  /** Only this tag. */
  tag?: string | null;
  /** The row the page starts after. */
  after?: TagRow | null;
  /** Leaves out entities expired at this time ({@link ReadOptions.aliveAt}). */
  aliveAt?: number;
}

/** Reads of entities outside a write (on the pool). */
export class EntityReader {
  readonly #db: AnyDb;

  constructor(db: Kysely<Database>) {
    this.#db = db as unknown as AnyDb;
  }

  /** An entity by id or unique field, or `null`. */
  async find<K extends EntityKind>(kind: K, key: EntityKey, options: ReadOptions = {}): Promise<EntityOf<K> | null> {
    let q = this.#db.selectFrom(tableOf(kind)).selectAll();
    for (const { column, value } of keyFilter(kind, key)) q = q.where(column, '=', value);
    const alive = aliveCondition(kind, options.aliveAt);
    if (alive) q = q.where(alive);
    const row = await q.executeTakeFirst();
    return row ? toEntity(kind, row) : null;
  }

  /** Ids of entities expired at `now` (seconds), at most `limit`, in id order; none for a kind that never expires. */
  async expiredIds(kind: EntityKind, now: number, limit: number): Promise<string[]> {
    const field = ENTITIES[kind].expiresAtField;
    if (field === null) return [];
    const column = ENTITY_TABLES[kind].columnOf(field);
    const rows = await this.#db.selectFrom(tableOf(kind)).select('id').where(column, '<=', now).orderBy('id').limit(limit).execute();
    return rows.map((r: { id: string }) => r.id);
  }

  /** A page of entities in id order. */
  async page<K extends EntityKind>(kind: K, query: PageQuery): Promise<Page<EntityOf<K>>> {
    let q = this.#db.selectFrom(tableOf(kind)).selectAll().orderBy('id').limit(query.size + 1);
    if (query.afterId) q = q.where('id', '>', query.afterId);
    if (query.where) q = q.where(ENTITY_TABLES[kind].columnOf(query.where.field), '=', query.where.value);
    const alive = aliveCondition(kind, query.aliveAt);
    if (alive) q = q.where(alive);
    const tags = tagCondition(query.tags);
    if (tags) q = q.where(tags);
    const rows = await q.execute();
    return { data: rows.slice(0, query.size).map((r: Record<string, unknown>) => toEntity(kind, r)), hasMore: rows.length > query.size };
  }

  /** The distinct non-null values of one stored field, sorted (e.g. the plugin names in use). */
  async distinct(kind: EntityKind, field: string): Promise<unknown[]> {
    const column = ENTITY_TABLES[kind].columnOf(field);
    const rows = await this.#db.selectFrom(tableOf(kind)).select(column).distinct().where(column, 'is not', null).orderBy(column).execute();
    return rows.map((r: Record<string, unknown>) => r[column]);
  }

  /**
   * A page of the tags of every kind (Kong's `/tags` and `/tags/{tag}`): each entity contributes one
   * row per tag, ordered by tag, then kind, then id. One query over every table.
   */
  async tagPage(kinds: readonly EntityKind[], query: TagPageQuery): Promise<Page<TagRow>> {
    const parts = kinds.map((kind) => {
      const alive = aliveCondition(kind, query.aliveAt);
      return sql`select unnest(tags) as tag, ${kind}::text as entity_name, id::text as entity_id from ${sql.table(tableOf(kind))} where tags is not null${alive ? sql` and ${alive}` : sql``}`;
    });
    if (parts.length === 0) return { data: [], hasMore: false };
    const conditions = [];
    if (query.tag !== undefined && query.tag !== null) conditions.push(sql`tag = ${query.tag}`);
    if (query.after) conditions.push(sql`(tag, entity_name, entity_id) > (${query.after.tag}, ${query.after.entity_name}, ${query.after.entity_id})`);
    const where = conditions.length === 0 ? sql`` : sql` where ${sql.join(conditions, sql` and `)}`;
    const result = await sql<TagRow>`select tag, entity_name, entity_id from (${sql.join(parts, sql` union all `)}) as tagged${where} order by tag, entity_name, entity_id limit ${query.size + 1}`.execute(this.#db);
    const rows = result.rows;
    return { data: rows.slice(0, query.size).map((r) => ({ tag: r.tag, entity_name: r.entity_name, entity_id: r.entity_id })), hasMore: rows.length > query.size };
  }

  /** Every entity of a kind in id order (a snapshot load, inside the caller's transaction). */
  static async all<K extends EntityKind>(db: Kysely<Database> | Transaction<Database>, kind: K): Promise<EntityOf<K>[]> {
    const rows = await (db as unknown as AnyDb).selectFrom(tableOf(kind)).selectAll().orderBy('id').execute();
    return rows.map((r: Record<string, unknown>) => toEntity(kind, r));
  }
}

/**
 * The entity operations available inside one write transaction. Each records its change for the
 * change log; constraint failures surface as Kong DAO errors.
 */
export class ConfigWriter {
  readonly trx: Transaction<Database>;
  readonly changes: EntityChange[] = [];
  readonly #db: AnyDb;

  constructor(trx: Transaction<Database>) {
    this.trx = trx;
    this.#db = trx as unknown as AnyDb;
  }

  #record<K extends EntityKind>(kind: K, row: Record<string, unknown>): EntityOf<K> {
    const entity = toEntity(kind, row);
    this.changes.push({ entityType: kind, entityId: entity.id, op: 'upsert', entity });
    return entity;
  }

  /** Finds an entity inside the transaction, locking its row (`for update`). */
  async lock<K extends EntityKind>(kind: K, key: EntityKey, options: ReadOptions = {}): Promise<EntityOf<K> | null> {
    let q = this.#db.selectFrom(tableOf(kind)).selectAll();
    for (const { column, value } of keyFilter(kind, key)) q = q.where(column, '=', value);
    const alive = aliveCondition(kind, options.aliveAt);
    if (alive) q = q.where(alive);
    const row = await q.forUpdate().executeTakeFirst();
    return row ? toEntity(kind, row) : null;
  }

  /** Finds an entity inside the transaction, without locking it. */
  async find<K extends EntityKind>(kind: K, key: EntityKey): Promise<EntityOf<K> | null> {
    let q = this.#db.selectFrom(tableOf(kind)).selectAll();
    for (const { column, value } of keyFilter(kind, key)) q = q.where(column, '=', value);
    const row = await q.executeTakeFirst();
    return row ? toEntity(kind, row) : null;
  }

  /** Every entity of a kind whose field has this value (a foreign field: the referenced id), in id order. */
  async list<K extends EntityKind>(kind: K, where: { field: string; value: string }): Promise<EntityOf<K>[]> {
    const rows = await this.#db
      .selectFrom(tableOf(kind))
      .selectAll()
      .where(ENTITY_TABLES[kind].columnOf(where.field), '=', where.value)
      .orderBy('id')
      .execute();
    return rows.map((r: Record<string, unknown>) => toEntity(kind, r));
  }

  /** Inserts a new entity; an existing id is a primary-key violation. */
  async insert<K extends EntityKind>(kind: K, entity: EntityOf<K>): Promise<EntityOf<K>> {
    const row = await mapConstraintErrors(kind, entity, () =>
      this.#db.insertInto(tableOf(kind)).values(ENTITY_TABLES[kind].toRow(entity)).returningAll().executeTakeFirstOrThrow(),
    );
    return this.#record(kind, row);
  }

  /** Inserts or fully replaces an entity by id (PUT). */
  async upsert<K extends EntityKind>(kind: K, entity: EntityOf<K>): Promise<EntityOf<K>> {
    const values = ENTITY_TABLES[kind].toRow(entity);
    const { id: _id, ...rest } = values;
    const row = await mapConstraintErrors(kind, entity, () =>
      this.#db
        .insertInto(tableOf(kind))
        .values(values)
        .onConflict((oc) => oc.column('id').doUpdateSet(rest))
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return this.#record(kind, row);
  }

  /** Overwrites an existing entity (PATCH after merge); `null` when it no longer exists. */
  async update<K extends EntityKind>(kind: K, entity: EntityOf<K>): Promise<EntityOf<K> | null> {
    const { id, created_at: _created, ...rest } = ENTITY_TABLES[kind].toRow(entity);
    const row = await mapConstraintErrors(kind, entity, () =>
      this.#db.updateTable(tableOf(kind)).set(rest).where('id', '=', id).returningAll().executeTakeFirst(),
    );
    return row ? this.#record(kind, row as Record<string, unknown>) : null;
  }

  /**
   * Inserts or fully replaces many entities of one kind by id, in as few statements as the bind
   * parameter limit allows ({@link MAX_BATCH_PARAMETERS}); each recorded. What a declarative
   * import writes; constraint failures surface as Kong DAO errors naming the first offender's kind.
   */
  async upsertMany<K extends EntityKind>(kind: K, entities: readonly EntityOf<K>[]): Promise<void> {
    if (entities.length === 0) return;
    const table = ENTITY_TABLES[kind];
    const columns = table.columns.map((c) => c.column);
    const updated = columns.filter((c) => c !== 'id');
    for (const slice of chunks(entities, Math.floor(MAX_BATCH_PARAMETERS / columns.length))) {
      const rows = await mapConstraintErrors(kind, slice[0] ?? null, () =>
        this.#db
          .insertInto(tableOf(kind))
          .values(slice.map((e) => table.toRow(e)))
          .onConflict((oc) => oc.column('id').doUpdateSet(Object.fromEntries(updated.map((c) => [c, sql.ref(`excluded.${c}`)]))))
          .returningAll()
          .execute(),
      );
      for (const row of rows) this.#record(kind, row as Record<string, unknown>);
    }
  }

  /**
   * Deletes many entities of one kind by id, without cascading: the caller deletes referrers itself
   * (a declarative import deletes every entity its file leaves out). Each deleted row is recorded;
   * returns how many there were.
   */
  async deleteMany(kind: EntityKind, ids: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const slice of chunks(ids.map((id) => id.toLowerCase()), MAX_BATCH_PARAMETERS)) {
      const rows = await mapConstraintErrors(kind, null, () => this.#db.deleteFrom(tableOf(kind)).where('id', 'in', slice).returning('id').execute());
      for (const row of rows) this.changes.push({ entityType: kind, entityId: row.id as string, op: 'delete', entity: null });
      deleted += rows.length;
    }
    return deleted;
  }

  /**
   * Sets a unique text field of the given entities to a placeholder unique to each
   * (`sluice-parked-<id>`), without recording a change: the entities are deleted or rewritten later
   * in the same transaction, and meanwhile their value is free for another entity (a declarative
   * import that moves a name from one entity to another).
   */
  async park(kind: EntityKind, field: string, ids: readonly string[]): Promise<void> {
    const column = ENTITY_TABLES[kind].columnOf(field);
    for (const slice of chunks(ids, MAX_BATCH_PARAMETERS)) {
      await this.#db
        .updateTable(tableOf(kind))
        .set({ [column]: sql`'sluice-parked-' || id::text` })
        .where('id', 'in', slice)
        .execute();
    }
  }

  /**
   * Deletes an entity and, first, the referrers whose foreign field cascades; false when it did not
   * exist. A referrer whose field restricts refuses the delete (Kong code 4, `@referenced_by`): the
   * table's foreign key stops the DELETE, and {@link checkReferences} would before commit.
   */
  async delete(kind: EntityKind, id: string): Promise<boolean> {
    const lowered = id.toLowerCase();
    for (const referrer of referrersOf(kind)) {
      if (referrer.onDelete !== 'cascade') continue;
      const column = ENTITY_TABLES[referrer.kind].columnOf(referrer.field);
      const children = await this.#db.selectFrom(tableOf(referrer.kind)).select('id').where(column, '=', lowered).execute();
      for (const child of children) await this.delete(referrer.kind, child.id as string);
    }
    const row = await mapConstraintErrors(kind, null, () => this.#db.deleteFrom(tableOf(kind)).where('id', '=', lowered).returning('id').executeTakeFirst());
    if (!row) return false;
    this.changes.push({ entityType: kind, entityId: row.id as string, op: 'delete', entity: null });
    return true;
  }

  /**
   * The consistency check over this write's changes (the last change of each entity counts),
   * against the tables as the transaction sees them; throws Kong's code 4 for the first offender.
   */
  async checkReferences(): Promise<void> {
    const last = new Map<string, EntityChange>();
    for (const c of this.changes) last.set(entityKey(c.entityType, c.entityId), c);
    const upserts: { kind: EntityKind; entity: AnyEntity }[] = [];
    const removals: { kind: EntityKind; id: string }[] = [];
    const wanted = new Map<EntityKind, Set<string>>();
    for (const c of last.values()) {
      if (c.op === 'delete') {
        removals.push({ kind: c.entityType, id: c.entityId });
        continue;
      }
      upserts.push({ kind: c.entityType, entity: c.entity! });
      for (const ref of referencesOf(c.entityType, c.entity!)) {
        if (!isEntityKind(ref.reference)) continue;
        const ids = wanted.get(ref.reference) ?? new Set<string>();
        ids.add(ref.id);
        wanted.set(ref.reference, ids);
      }
    }
    const existing = new Set<string>();
    for (const [kind, ids] of wanted) {
      for (const slice of chunks([...ids], MAX_BATCH_PARAMETERS)) {
        const rows = await this.#db.selectFrom(tableOf(kind)).select('id').where('id', 'in', slice).execute();
        for (const r of rows) existing.add(entityKey(kind, r.id as string));
      }
    }
    // One referrer per removed entity is enough to refuse it (the error names the referring kind);
    // one query per referring foreign field and batch of removals, not per removal.
    const referrers = new Map<string, { kind: EntityKind; id: string }[]>();
    const removedByKind = new Map<EntityKind, string[]>();
    for (const { kind, id } of removals) removedByKind.set(kind, [...(removedByKind.get(kind) ?? []), id]);
    for (const [kind, ids] of removedByKind) {
      for (const referrer of referrersOf(kind)) {
        const column = ENTITY_TABLES[referrer.kind].columnOf(referrer.field);
        for (const slice of chunks(ids, MAX_BATCH_PARAMETERS)) {
          const rows = await this.#db.selectFrom(tableOf(referrer.kind)).select(['id', `${column} as ref`]).where(column, 'in', slice).execute();
          for (const row of rows) {
            const key = entityKey(kind, row.ref as string);
            if (!referrers.has(key)) referrers.set(key, [{ kind: referrer.kind, id: row.id as string }]);
          }
        }
      }
    }
    const [error] = checkConsistency(
      { upserts, removals },
      {
        has: (kind, id) => existing.has(entityKey(kind, id)),
        referrerCount: (kind, id) => referrers.get(entityKey(kind, id))?.length ?? 0,
        referrers: (kind, id) => referrers.get(entityKey(kind, id)) ?? [],
      },
      1,
    );
    if (error === undefined) return;
    if (error.type === 'dangling') throw KongDaoError.foreignKeyInvalidReference(error.field, { id: error.referencedId }, error.reference);
    throw KongDaoError.foreignKeyRestricted(error.removedKind, error.kind);
  }
}

/**
 * The value of a composite unique key of `entity` as Kong prints it in a 409: fields sorted,
 * foreign fields as `{id}`, unset ones null (`{consumer=null,name="acl",route=null,service={id=…}}`).
 */
function uniqueKeyValue(fields: Record<string, unknown>, key: readonly string[]): Record<string, unknown> {
  return Object.fromEntries([...key].sort().map((field) => [field, fields[field] ?? null]));
}

/**
 * Turns Postgres constraint failures into Kong's DAO errors, by constraint name (Postgres names
 * them `<table>_pkey`, `<table>_<column>_key`, `<table>_<column>_fkey`; a composite unique key is
 * named by the table, `EntityTable.uniqueKeyConstraints`).
 */
async function mapConstraintErrors<T>(kind: EntityKind, entity: AnyEntity | null, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const { code, constraint } = pgError(err);
    const table = ENTITY_TABLES[kind];
    const fields = entity as unknown as Record<string, unknown> | null;
    if (code === '23505' && fields && constraint) {
      if (constraint === `${table.table}_pkey`) throw KongDaoError.primaryKeyViolation(fields.id as string, err);
      for (const field of ENTITIES[kind].uniqueFields) {
        if (constraint === `${table.table}_${table.columnOf(field)}_key`) throw KongDaoError.uniqueViolation({ [field]: fields[field] }, err);
      }
      const index = table.uniqueKeyConstraints.indexOf(constraint);
      const key = ENTITIES[kind].uniqueKeys[index];
      if (key !== undefined) throw KongDaoError.uniqueViolation(uniqueKeyValue(fields, key), err);
    }
    if (code === '23503' && constraint) {
      for (const f of ENTITIES[kind].foreignFields) {
        const ref = fields?.[f.field] as { id: string } | null | undefined;
        if (ref && constraint === `${table.table}_${table.columnOf(f.field)}_fkey`) {
          throw KongDaoError.foreignKeyInvalidReference(f.field, { id: ref.id }, f.reference, err);
        }
      }
      for (const referrer of referrersOf(kind)) {
        const referrerTable = ENTITY_TABLES[referrer.kind];
        if (constraint === `${referrerTable.table}_${referrerTable.columnOf(referrer.field)}_fkey`) throw KongDaoError.foreignKeyRestricted(kind, referrer.kind, err);
      }
    }
    throw err;
  }
}

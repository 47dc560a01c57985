/**
 * The control-plane store: the config in Postgres (a server through `pg`, or embedded PGlite), one
 * table per entity kind (`entity-repository.ts`), the config version counter and the change log.
 *
 * Every configuration write goes through {@link Store.write}: one transaction that writes the
 * entity rows, then bumps `config_state.version` (taking its row lock as late as possible), then
 * appends one `config_changes` row per changed entity, then NOTIFYs `sluice_config`. The row lock
 * serialises writers, so committed versions are unique, gap-free and in commit order, and a reader
 * that sees head N can read every change up to N.
 */
import type { PGlite } from '@electric-sql/pglite';
import { type AnyEntity, ENTITY_KINDS, type EntityKind, type EntityOf } from '@sluice/protocol';
import { type Kysely, type Transaction, sql } from 'kysely';
import type { Logger } from 'pino';
import type pg from 'pg';
import { ClosedError, StoreError } from '../errors.js';
import type { Database } from './database.js';
import type { DatabaseHealth } from './database-health.js';
import type { DatabaseTimeouts } from './database-timeouts.js';
import { WRITE_DEADLINE_SETTING } from './migrations/0010-write-deadline.js';
import { ConfigWriter, type EntityKey, EntityReader, type Page, type PageQuery, type ReadOptions, type TagPageQuery, type TagRow } from './entity-repository.js';
import type { NotificationListener } from './notification-listener.js';
import { runExclusive } from './pglite-dialect.js';
import { currentCancellation, outsideStatementContexts, runWithWriteBounds } from './statement-context.js';

/** The NOTIFY channel a committed write announces its version on. */
export const CONFIG_CHANNEL = 'sluice_config';

/** Change-log rows per INSERT statement (six bind parameters each, under PostgreSQL's 65,535). */
const CHANGE_ROWS_PER_INSERT = 5000;

/** The head of the change log: which config is current, and how far back the log reaches. */
export interface ConfigHead {
  epoch: string;
  version: number;
  minRetainedVersion: number;
}

/** The entity kinds the change log records: every kind of the registry. */
export type ChangeEntityType = EntityKind;

/** One row of the change log: an entity written (full entity after the write) or deleted. */
export interface ConfigChange {
  version: number;
  seq: number;
  entityType: ChangeEntityType;
  entityId: string;
  op: 'upsert' | 'delete';
  entity: AnyEntity | null;
}

/** Every entity of each kind, in id order. */
export type EntitiesByKind = { [K in EntityKind]: EntityOf<K>[] };

/** The whole configuration at one version. */
export interface ConfigSnapshot {
  head: ConfigHead;
  entities: EntitiesByKind;
}

/** The outcome of {@link Store.write}. */
export interface WriteResult<T> {
  result: T;
  /** The version this write committed, or the current head when it changed nothing. */
  version: number;
  epoch: string;
  /** False when the write changed nothing (e.g. deleting a missing entity); no version was used. */
  isChanged: boolean;
}

/** Options of {@link Store.write}. */
export interface WriteOptions {
  /**
   * Runs inside the transaction after the version bump and the change-log rows, before COMMIT.
   * Throwing rolls the whole write back, version included.
   */
  beforeCommit?: (version: number) => Promise<void>;
  /**
   * Aborting it before COMMIT rolls the write back (default: the cancellation of the current
   * context, i.e. the Admin API request's, see `statement-context.ts`).
   */
  signal?: AbortSignal;
  /** This write's transaction timeout in ms, for a write known to be long (default the store's `transactionTimeoutMs`). */
  timeoutMs?: number;
}

/** The connection behind a store: a `pg` pool or an embedded PGlite instance. */
export type StoreBackend =
  | {
      kind: 'postgres';
      health: DatabaseHealth;
      timeouts: DatabaseTimeouts;
      /** The pool, for its counters. */
      pool: pg.Pool;
      createListener: (onNotification: (payload: string) => void, onRelisten: () => void) => NotificationListener;
    }
  | { kind: 'pglite'; pglite: PGlite; health: DatabaseHealth; closePGlite: () => Promise<void> };

/** Connections of a store's pool, for the metrics (PGlite has one, always busy or idle). */
export interface PoolCounts {
  total: number;
  idle: number;
  waiting: number;
}

/** A config_changes row as the drivers return it (bigint columns may come back as strings). */
interface ChangeRow {
  version: string | number | null;
  seq: number;
  entity_type: string;
  entity_id: string;
  op: string;
  payload: unknown;
}

function toChange(r: ChangeRow): ConfigChange {
  return {
    version: Number(r.version),
    seq: r.seq,
    entityType: r.entity_type as ChangeEntityType,
    entityId: r.entity_id,
    op: r.op as ConfigChange['op'],
    entity: (r.payload ?? null) as AnyEntity | null,
  };
}

function toHead(row: { epoch: string; version: string | number; min_retained_version: string | number }): ConfigHead {
  return { epoch: row.epoch, version: Number(row.version), minRetainedVersion: Number(row.min_retained_version) };
}

/**
 * Tells the database when this write must have committed: `budgetMs` from the transaction's start
 * as the server measured it (`now()`, taken when BEGIN ran, which is no later than when the client
 * saw BEGIN answered; so the server's deadline is never later than the client's, whatever the two
 * clocks read). The deferred trigger of migration 0005 refuses a COMMIT processed after it: a
 * COMMIT held up by the network and delivered after the client gave up rolls back instead.
 */
async function setCommitDeadline(trx: Transaction<Database>, budgetMs: number): Promise<void> {
  await sql`select set_config(${WRITE_DEADLINE_SETTING}, (extract(epoch from now()) + ${Math.max(0, budgetMs) / 1000}::float8)::text, true)`.execute(trx);
}

/** See the module comment. Open one with `openStore`. */
export class Store {
  /** The Kysely instance, for repositories of tables other modules own. */
  readonly db: Kysely<Database>;
  /** Which database this store runs on. */
  readonly kind: 'postgres' | 'pglite';
  readonly #backend: StoreBackend;
  readonly #logger: Logger | undefined;
  readonly #listeners = new Set<(version: number) => void>();
  #notifier: { close(): Promise<void>; listening: Promise<void>; isListening?: boolean } | null = null;
  /** Whether this replica reaches its database, from memory (never waits on it). */
  readonly health: DatabaseHealth;
  #isClosed = false;
  readonly #reader: EntityReader;

  constructor(db: Kysely<Database>, backend: StoreBackend, logger?: Logger) {
    this.db = db;
    this.#reader = new EntityReader(db);
    this.kind = backend.kind;
    this.#backend = backend;
    this.#logger = logger;
    this.health = backend.health;
    // The first fault may come from inside a write: its probes must not inherit the write's bounds.
    this.health.setProbe(() => outsideStatementContexts(() => this.ping()));
    this.health.on('change', (isReachable: boolean) => {
      if (isReachable) logger?.info('database reachable again');
      else logger?.warn({ fault: this.health.lastFault?.fault, err: this.health.lastFault?.error }, 'database unreachable: writes answer 503, reads are served from memory');
    });
  }

  /** The connect, statement and transaction timeouts of a database server (`null` with PGlite). */
  get timeouts(): DatabaseTimeouts | null {
    return this.#backend.kind === 'postgres' ? this.#backend.timeouts : null;
  }

  /** The pool's connections (`null` with PGlite). */
  poolCounts(): PoolCounts | null {
    if (this.#backend.kind !== 'postgres') return null;
    const { totalCount, idleCount, waitingCount } = this.#backend.pool;
    return { total: totalCount, idle: idleCount, waiting: waitingCount };
  }

  /** Whether the LISTEN for config changes is in effect now (PGlite: once subscribed). */
  get isListening(): boolean {
    return this.#notifier?.isListening ?? false;
  }

  /** The current epoch, version and oldest retained version. */
  async readHead(): Promise<ConfigHead> {
    this.#assertOpen();
    const row = await this.db.selectFrom('config_state').select(['epoch', 'version', 'min_retained_version']).where('id', '=', 1).executeTakeFirstOrThrow();
    return toHead(row);
  }

  /** Changes with `afterVersion < version <= upToVersion`, ordered by (version, seq). */
  async readChanges(afterVersion: number, upToVersion: number): Promise<ConfigChange[]> {
    this.#assertOpen();
    const rows = await this.db
      .selectFrom('config_changes')
      .selectAll()
      .where('version', '>', afterVersion)
      .where('version', '<=', upToVersion)
      .orderBy('version')
      .orderBy('seq')
      .execute();
    return rows.map(toChange);
  }

  /**
   * The head, and the changes after `afterVersion` up to it, in one statement (one round trip,
   * one snapshot): what a follower of the log reads on each wake-up. The changes are only
   * meaningful when the head's epoch is the caller's.
   */
  async readHeadAndChanges(afterVersion: number): Promise<{ head: ConfigHead; changes: ConfigChange[] }> {
    this.#assertOpen();
    const { rows } = await sql<ChangeRow & { head_epoch: string; head_version: string | number; head_min_retained_version: string | number }>`
      select s.epoch as head_epoch, s.version as head_version, s.min_retained_version as head_min_retained_version,
             c.version, c.seq, c.entity_type, c.entity_id, c.op, c.payload
        from config_state s
        left join config_changes c on c.version > ${afterVersion} and c.version <= s.version
       where s.id = 1
       order by c.version, c.seq`.execute(this.db);
    const first = rows[0];
    if (first === undefined) throw new StoreError('config_state has no row: the schema was not migrated');
    const head = toHead({ epoch: first.head_epoch, version: first.head_version, min_retained_version: first.head_min_retained_version });
    const changes = first.version === null ? [] : rows.map(toChange);
    return { head, changes };
  }

  /** The whole config and its head, read in one repeatable-read transaction. */
  async loadSnapshot(): Promise<ConfigSnapshot> {
    this.#assertOpen();
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const head = toHead(
          await trx.selectFrom('config_state').select(['epoch', 'version', 'min_retained_version']).where('id', '=', 1).executeTakeFirstOrThrow(),
        );
        const entities = {} as Record<EntityKind, AnyEntity[]>;
        for (const kind of ENTITY_KINDS) entities[kind] = await EntityReader.all(trx, kind);
        return { head, entities: entities as EntitiesByKind };
      });
  }

  /**
   * Calls `listener` with the version of each committed write announced on `sluice_config`, from
   * this process or another replica, and with 0 each time the LISTEN is back after a drop (writes
   * may have been missed meanwhile: read the log). A hint only: notifications can be lost while
   * reconnecting. Returns the unsubscribe function.
   */
  onConfigChange(listener: (version: number) => void): () => void {
    this.#assertOpen();
    this.#listeners.add(listener);
    if (this.#notifier === null) this.#startNotifier();
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Resolves once notifications flow (the LISTEN is in effect), starting the listener if needed.
   * Writes committed before that are not notified; callers that must not miss one poll anyway.
   */
  async whenListening(): Promise<void> {
    this.#assertOpen();
    if (this.#notifier === null) this.#startNotifier();
    await this.#notifier?.listening;
  }

  #dispatch(payload: string): void {
    const version = Number(payload);
    if (!Number.isSafeInteger(version)) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(version);
      } catch (err) {
        this.#logger?.error({ err }, 'config change listener threw');
      }
    }
  }

  #startNotifier(): void {
    const backend = this.#backend;
    if (backend.kind === 'postgres') {
      // After a drop, wake every follower with version 0: changes may have been missed meanwhile.
      const listener = backend.createListener(
        (payload) => this.#dispatch(payload),
        () => this.#dispatch('0'),
      );
      listener.start();
      this.#notifier = listener;
      return;
    }
    const subscription = runExclusive(backend.pglite, () => backend.pglite.listen(CONFIG_CHANNEL, (payload) => this.#dispatch(payload)));
    subscription.catch((err: unknown) => this.#logger?.error({ err }, 'cannot LISTEN on the embedded database'));
    let isSubscribed = false;
    void subscription.then(() => (isSubscribed = true), () => undefined);
    this.#notifier = {
      get isListening() {
        return isSubscribed;
      },
      listening: subscription.then(() => undefined),
      close: async () => {
        const unsubscribe = await subscription.catch(() => null);
        if (unsubscribe && !backend.pglite.closed) await runExclusive(backend.pglite, () => unsubscribe());
      },
    };
  }

  /** True when the database answers a trivial query. */
  async ping(): Promise<boolean> {
    if (this.#isClosed) return false;
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs `fn` in one write transaction, then, if it changed anything, bumps the version, appends
   * the change log and NOTIFYs; see the module comment.
   */
  async write<T>(fn: (writer: ConfigWriter) => Promise<T>, options: WriteOptions = {}): Promise<WriteResult<T>> {
    this.#assertOpen();
    const backend = this.#backend;
    const timeoutMs = options.timeoutMs ?? (backend.kind === 'postgres' ? backend.timeouts.transactionTimeoutMs : null);
    const signal = options.signal ?? currentCancellation();
    const transaction = () =>
      this.db.transaction().execute(async (trx) => {
        if (timeoutMs !== null) await setCommitDeadline(trx, deadlineMs - Date.now());
        const writer = new ConfigWriter(trx);
        const result = await fn(writer);
        if (writer.changes.length === 0) return { result, head: null };
        await writer.checkReferences();
        const bumped = await sql<{ epoch: string; version: string | number }>`update config_state set version = version + 1 where id = 1 returning epoch, version`.execute(trx);
        const headRow = bumped.rows[0];
        if (!headRow) throw new StoreError('config_state has no row; the database was not migrated');
        const version = Number(headRow.version);
        const rows = writer.changes.map((c, seq) => ({
          version,
          seq,
          entity_type: c.entityType,
          entity_id: c.entityId,
          op: c.op,
          payload: c.entity === null ? null : JSON.stringify(c.entity),
        }));
        // Six parameters a row: batches stay under the bind parameter limit (a declarative import writes thousands).
        for (let i = 0; i < rows.length; i += CHANGE_ROWS_PER_INSERT) {
          await trx.insertInto('config_changes').values(rows.slice(i, i + CHANGE_ROWS_PER_INSERT)).execute();
        }
        await sql`select pg_notify(${CONFIG_CHANNEL}, ${String(version)})`.execute(trx);
        if (options.beforeCommit) await options.beforeCommit(version);
        return { result, head: { epoch: headRow.epoch, version } };
      });
    const deadlineMs = Date.now() + (timeoutMs ?? 0);
    const outcome = timeoutMs === null ? await transaction() : await runWithWriteBounds({ deadlineMs, signal }, transaction);
    if (outcome.head) return { result: outcome.result, version: outcome.head.version, epoch: outcome.head.epoch, isChanged: true };
    const head = await this.readHead();
    return { result: outcome.result, version: head.version, epoch: head.epoch, isChanged: false };
  }

  /** An entity by id or unique field, or `null`. */
  find<K extends EntityKind>(kind: K, key: EntityKey, options?: ReadOptions): Promise<EntityOf<K> | null> {
    this.#assertOpen();
    return this.#reader.find(kind, key, options);
  }

  /** Ids of entities of `kind` expired at `now` (seconds), at most `limit`; none for a kind that never expires. */
  expiredIds(kind: EntityKind, now: number, limit: number): Promise<string[]> {
    this.#assertOpen();
    return this.#reader.expiredIds(kind, now, limit);
  }

  /** A page of entities in id order. */
  page<K extends EntityKind>(kind: K, query: PageQuery): Promise<Page<EntityOf<K>>> {
    this.#assertOpen();
    return this.#reader.page(kind, query);
  }

  /** The distinct non-null values of one stored field of a kind, sorted (`GET /`'s plugins in use). */
  distinct(kind: EntityKind, field: string): Promise<unknown[]> {
    this.#assertOpen();
    return this.#reader.distinct(kind, field);
  }

  /** A page of the tags of every kind ({@link EntityReader.tagPage}). */
  tagPage(query: TagPageQuery): Promise<Page<TagRow>> {
    this.#assertOpen();
    return this.#reader.tagPage(ENTITY_KINDS, query);
  }

  /** Stops listening, then closes the pool or the embedded database. Idempotent. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#listeners.clear();
    const notifier = this.#notifier;
    this.#notifier = null;
    await notifier?.close().catch((err: unknown) => this.#logger?.warn({ err }, 'closing the config change listener failed'));
    this.health.close();
    await this.db.destroy();
    if (this.#backend.kind === 'pglite') await this.#backend.closePGlite();
  }

  #assertOpen(): void {
    if (this.#isClosed) throw new ClosedError('store');
  }
}

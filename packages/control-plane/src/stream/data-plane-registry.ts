import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/database.js';
import { dataPlaneView, fromRow, syncStatusOf, toRow, type DataPlaneRecord, type DataPlanesTable, type DataPlaneView, type SyncStatus } from './data-plane-record.js';
import { RegistryAdmission, type RegistryAdmissionStats } from './registry-admission.js';
import { DEFAULT_STREAM_LIMITS } from './stream-limits.js';

/** Heartbeat intervals a row may go unrefreshed before its data plane counts as disconnected. */
export const STALE_AFTER_HEARTBEATS = 3;

/**
 * Longest a change to a local data plane's record (an Ack, a heartbeat's `last_seen`) waits before
 * its row is written, in ms (default 1000): the changed records are written together at most once
 * per interval, the first change after a quiet interval at once. It bounds how stale other
 * replicas' view of this replica's data planes is; this replica answers from memory. What waits is
 * bounded by the local data planes (one entry per node, later changes coalesced).
 */
export const REGISTRY_FLUSH_INTERVAL_MS = 1_000;

/**
 * Most rows one statement writes (default 500): a flush of more is several statements, one after
 * another, with the event loop given a turn between them (the embedded database runs on it). Fewer,
 * larger statements are cheaper: each one is a commit, some 10 ms of file writes on the embedded
 * database, where 500 rows cost some 30 ms.
 */
export const REGISTRY_FLUSH_BATCH_ROWS = 500;

export interface DataPlaneRegistryOptions {
  db: Kysely<Database>;
  logger: Logger;
  /** This control-plane process's id, stamped on the rows of the data planes connected to it. */
  cpInstanceId: string;
  /** A row not refreshed for this long counts as disconnected (its replica died), in ms (default {@link STALE_AFTER_HEARTBEATS} × the default heartbeat interval, 15 s). */
  staleAfterMs?: number;
  /** Rows the registry may hold, across replicas (default `MAX_DATA_PLANE_ROWS`, 20,000); see {@link RegistryAdmission}. */
  maxRows?: number;
  /** Longest wait for an admission decision, in ms (default `ADMIT_TIMEOUT_MS`, 1000). */
  admitTimeoutMs?: number;
  /** Longest a changed record waits for its row to be written, in ms (default {@link REGISTRY_FLUSH_INTERVAL_MS}, 1000; at most a third of `staleAfterMs`). */
  flushIntervalMs?: number;
  /** Rows per statement (default {@link REGISTRY_FLUSH_BATCH_ROWS}, 500). */
  flushBatchRows?: number;
}

/** The registry's write counters since start. */
export interface RegistryWriteStats {
  /** Statements that wrote the rows of local data planes (one per batch). */
  batches: number;
  /** Rows those statements wrote. */
  rows: number;
}

/** Events a DataPlaneRegistry emits. */
export interface DataPlaneRegistryEvents {
  /** A local data plane's record changed in memory (connected, acked, seen, disconnected); emitted at once, before it is written. */
  change: [record: DataPlaneRecord];
  /** A batch of records is in the database (readers of other replicas see them). */
  persisted: [records: readonly DataPlaneRecord[]];
}

/** Whether `record` comes from the same connection as `current` or from a newer one of that node. */
function isSameOrNewerConnection(record: DataPlaneRecord, current: DataPlaneRecord): boolean {
  return record.connectedAt === current.connectedAt || (record.connectedAt ?? 0) > (current.connectedAt ?? 0);
}

/**
 * The fleet of data planes, persisted in Postgres so that every control-plane replica (and the
 * Admin API on any of them) sees every data plane. Records of locally connected data planes are
 * kept in memory, changed at once (`change` is emitted with the record: a propagation wait learns
 * of an Ack without the database), and written behind in batches: at most one flush per
 * `flushIntervalMs`, one statement per batch of up to `flushBatchRows` rows, later changes of a
 * record coalesced into its next write. The work per Ack is independent of the
 * fleet's size, and a slow or unavailable database never blocks the stream (a failed batch is
 * retried an interval later). `list()` shows local records from memory over their rows.
 *
 * A local record belongs to one connection, told apart by its `connectedAt` (unique per connection
 * within a process): only that connection changes it or marks it disconnected, and a newer
 * connection of the same node takes it over. Anything else that claims the node id (a refused
 * Hello, a connection it replaced) never touches it.
 */
export class DataPlaneRegistry extends EventEmitter<DataPlaneRegistryEvents> {
  private readonly db: Kysely<Database & { data_planes: DataPlanesTable }>;
  private readonly logger: Logger;
  readonly cpInstanceId: string;
  readonly staleAfterMs: number;
  private readonly admission: RegistryAdmission;
  /** The record of each locally connected node, owned by its newest connection. */
  private readonly local = new Map<string, DataPlaneRecord>();
  /** Local records changed since their row was last written. */
  private readonly dirty = new Set<string>();
  /** Local records that have no row yet (counted by admission before their first write). */
  private readonly unwritten = new Set<string>();
  readonly flushIntervalMs: number;
  readonly flushBatchRows: number;
  private flushTimer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private lastFlushMs = 0;
  private isClosed = false;
  private readonly writeCounters: RegistryWriteStats = { batches: 0, rows: 0 };
  /** Rows of nodes refused at Hello as incompatible, waiting to be written (never local records). */
  private readonly incompatible = new Map<string, DataPlaneRecord>();
  private writingIncompatible: Promise<void> | null = null;
  private lastWriteError: Error | null = null;

  constructor(options: DataPlaneRegistryOptions) {
    super();
    this.db = options.db.withTables<{ data_planes: DataPlanesTable }>();
    this.logger = options.logger;
    this.cpInstanceId = options.cpInstanceId;
    this.staleAfterMs = options.staleAfterMs ?? STALE_AFTER_HEARTBEATS * DEFAULT_STREAM_LIMITS.heartbeatIntervalMs;
    this.admission = new RegistryAdmission({ db: this.db, logger: this.logger, maxRows: options.maxRows, staleAfterMs: this.staleAfterMs, admitTimeoutMs: options.admitTimeoutMs });
    this.flushIntervalMs = Math.max(1, Math.min(options.flushIntervalMs ?? REGISTRY_FLUSH_INTERVAL_MS, Math.floor(this.staleAfterMs / 3)));
    this.flushBatchRows = Math.max(1, options.flushBatchRows ?? REGISTRY_FLUSH_BATCH_ROWS);
    // Every propagation wait listens to `change`; their number is bounded by the Admin API's requests.
    this.setMaxListeners(0);
  }

  /** Write counters since start: batches (statements) and rows written for local data planes. */
  get writeStats(): Readonly<RegistryWriteStats> {
    return this.writeCounters;
  }

  /** Rows the registry may hold, across replicas. */
  get maxRows(): number {
    return this.admission.maxRows;
  }

  /** Counters since start: rows evicted and nodes refused to keep the registry under {@link maxRows}. */
  get stats(): Readonly<RegistryAdmissionStats> {
    return this.admission.stats;
  }

  /**
   * Records a change to a locally connected data plane (`record.connected`) and schedules its
   * write. A record of an older connection than the one that holds the node (one it replaced) is
   * ignored.
   */
  update(record: DataPlaneRecord): void {
    const current = this.local.get(record.id);
    if (current !== undefined && !isSameOrNewerConnection(record, current)) return;
    if (current === undefined) this.unwritten.add(record.id);
    this.local.set(record.id, record);
    this.markDirty(record);
  }

  /** The in-memory record of a locally connected data plane. */
  get(id: string): DataPlaneRecord | undefined {
    return this.local.get(id);
  }

  /** Marks a local data plane disconnected, unless another connection of the same node has replaced it. */
  disconnected(id: string, connectedAt: number | null): void {
    const record = this.local.get(id);
    if (!record || record.connectedAt !== connectedAt) return;
    const gone = { ...record, connected: false, lastSeen: Date.now() };
    this.local.set(id, gone);
    this.markDirty(gone);
  }

  /**
   * Records a node refused at Hello for its protocol version, so that the fleet shows it
   * `incompatible`. It is not a connection: no local record is created or changed, and the row is
   * written only where no live connection of that node owns it, and only if it fits
   * ({@link admit}). Coalesced per node; at most {@link maxRows} wait for the database.
   */
  recordIncompatible(record: DataPlaneRecord): void {
    if (this.incompatible.size >= this.maxRows && !this.incompatible.has(record.id)) return;
    this.incompatible.set(record.id, { ...record, connected: false, incompatible: true });
    this.writingIncompatible ??= this.flushIncompatible();
  }

  /**
   * Whether a node may have a row: always when it is connected here or has one; for a new node,
   * when it fits under {@link maxRows} ({@link RegistryAdmission}). False only when every row
   * belongs to a connected data plane: the caller refuses the node.
   */
  admit(nodeId: string): Promise<boolean> {
    return this.local.has(nodeId) ? Promise.resolve(true) : this.admission.admit(nodeId, this.unwritten.size);
  }

  /**
   * Refreshes `last_seen` of every locally connected data plane (called once per heartbeat
   * interval; written with the next flush). Disconnected records wait for their write (retried
   * each flush while the database fails); past `maxRows` the longest-known are given up.
   */
  touchAll(now = Date.now()): void {
    // Given-up records' rows are shown disconnected once stale anyway.
    let excess = this.local.size - this.maxRows;
    for (const record of this.local.values()) {
      if (record.connected) this.update({ ...record, lastSeen: now });
      else if (excess > 0) {
        this.local.delete(record.id);
        this.dirty.delete(record.id);
        this.unwritten.delete(record.id);
        excess--;
      }
    }
  }

  /**
   * Writes every waiting record now and waits for every pending write (used on shutdown and by
   * tests). A batch that fails stays waiting for its retry.
   */
  async settle(): Promise<void> {
    for (;;) {
      if (this.writing === null && this.dirty.size > 0) this.startFlush();
      const pending = [this.writing, this.writingIncompatible].filter((p) => p !== null);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
      if (this.lastWriteError !== null && this.writing === null && this.writingIncompatible === null) return;
    }
  }

  /** Stops the flush timer after writing what waits ({@link settle}); later changes are not written. */
  async close(): Promise<void> {
    await this.settle();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.isClosed = true;
  }

  /** Notes a changed local record: `change` now, its row with the next batch. */
  private markDirty(record: DataPlaneRecord): void {
    this.dirty.add(record.id);
    this.emit('change', record);
    this.scheduleFlush();
  }

  /** At most one flush per `flushIntervalMs`, the first change after a quiet interval at once. */
  private scheduleFlush(): void {
    if (this.isClosed || this.writing !== null) return;
    const dueInMs = this.lastFlushMs + this.flushIntervalMs - Date.now();
    if (dueInMs <= 0) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.startFlush();
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.startFlush();
    }, dueInMs);
    this.flushTimer.unref();
  }

  private startFlush(): void {
    if (this.writing !== null || this.dirty.size === 0) return;
    this.lastFlushMs = Date.now();
    this.writing = this.flushBatches().finally(() => {
      this.writing = null;
      if (this.dirty.size > 0) this.scheduleFlush();
    });
  }

  /**
   * Writes the records waiting when the flush starts (later changes wait for the next one), one
   * statement per batch of `flushBatchRows`; on a failure the rest waits for the next interval.
   */
  private async flushBatches(): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    for (let offset = 0; offset < ids.length; offset += this.flushBatchRows) {
      if (offset > 0) await new Promise((resolve) => setImmediate(resolve));
      const batch: DataPlaneRecord[] = [];
      for (const id of ids.slice(offset, offset + this.flushBatchRows)) {
        const record = this.local.get(id);
        if (record) batch.push(record);
      }
      if (batch.length === 0) continue;
      try {
        await this.writeBatch(batch);
        this.writeCounters.batches++;
        this.writeCounters.rows += batch.length;
        this.noteWriteOk();
      } catch (err) {
        this.noteWriteError(err as Error);
        // Retried with the next flush, an interval later; a newer change of a record is written instead.
        for (const id of ids.slice(offset)) if (this.local.has(id)) this.dirty.add(id);
        return;
      }
      for (const r of batch) {
        this.unwritten.delete(r.id);
        // A disconnected record is done with once written, unless its node came back meanwhile.
        if (!r.connected && this.local.get(r.id) === r) this.local.delete(r.id);
      }
      this.emit('persisted', batch);
    }
  }

  /** Writes the pending incompatible rows one at a time, until none is left. */
  private async flushIncompatible(): Promise<void> {
    for (const [id, record] of this.incompatible) {
      this.incompatible.delete(id);
      try {
        if (!(await this.admit(id))) continue;
        await this.writeIncompatible(record);
        this.noteWriteOk();
        this.emit('persisted', [record]);
      } catch (err) {
        this.noteWriteError(err as Error);
      }
    }
    this.writingIncompatible = null;
  }

  private noteWriteOk(): void {
    if (this.lastWriteError) this.logger.info('data-plane registry writes resumed');
    this.lastWriteError = null;
  }

  private noteWriteError(err: Error): void {
    if (!this.lastWriteError) this.logger.warn({ err }, 'cannot persist data-plane state; will retry with the next batch');
    this.lastWriteError = err;
  }

  /**
   * Writes a batch of local records in one statement: a connected record's row is inserted or
   * replaced; a disconnected one's replaces the row only when that row is still its connection's
   * (same replica, same `connectedAt`): the node may already be connected to another replica.
   */
  private async writeBatch(records: readonly DataPlaneRecord[]): Promise<void> {
    const rows = records.map(toRow);
    const columns = Object.keys(rows[0]).filter((c) => c !== 'id') as (keyof DataPlanesTable & string)[];
    await this.db
      .insertInto('data_planes')
      .values(rows)
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet(Object.fromEntries(columns.map((c) => [c, sql.ref(`excluded.${c}`)])))
          .where(
            sql<boolean>`excluded.connected or (data_planes.cp_instance_id = excluded.cp_instance_id and data_planes.connected_at is not distinct from excluded.connected_at)`,
          ),
      )
      .execute();
  }

  /**
   * A node refused at Hello never had a row written by its connection: insert it so the fleet
   * shows it `incompatible`, but never over a row a live connection of that node owns.
   */
  private async writeIncompatible(record: DataPlaneRecord): Promise<void> {
    const row = toRow(record);
    const { id: _id, ...set } = row;
    await this.db
      .insertInto('data_planes')
      .values(row)
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet(set)
          .where(sql<boolean>`not data_planes.connected or data_planes.last_seen < ${record.lastSeen - this.staleAfterMs}`),
      )
      .execute();
  }

  /**
   * Every known data plane, ordered by id; `afterId` and `limit` page through them. Rows come from
   * the database, with this replica's local records from memory in place of their rows (they are
   * newer than what is written). With `elsewhere`, only the rows flagged connected of data planes
   * not connected here (those of other replicas), from the database alone.
   */
  async list(options: { afterId?: string; limit?: number; elsewhere?: boolean } = {}): Promise<DataPlaneRecord[]> {
    // Byte order (collation "C") on both sides: the local records are merged in with JavaScript's.
    let q = this.db.selectFrom('data_planes').selectAll().orderBy(sql`id collate "C"`);
    if (options.afterId !== undefined) q = q.where(sql<boolean>`id collate "C" > ${options.afterId}`);
    if (options.elsewhere) q = q.where('connected', '=', true).where('cp_instance_id', '<>', this.cpInstanceId);
    if (options.limit !== undefined) q = q.limit(options.limit);
    const rows = (await q.execute()).map(fromRow);
    if (options.elsewhere) return rows.filter((r) => this.local.get(r.id)?.connected !== true);
    const merged = new Map(rows.map((r) => [r.id, r]));
    for (const record of this.local.values()) {
      if (options.afterId !== undefined && record.id <= options.afterId) continue;
      const row = merged.get(record.id);
      // A node gone from here may already be connected to another replica: its row is newer then.
      if (row && !record.connected && row.cpInstanceId !== this.cpInstanceId) continue;
      merged.set(record.id, record);
    }
    const all = [...merged.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return options.limit === undefined ? all : all.slice(0, options.limit);
  }

  /**
   * How many data planes are connected across the cluster (every replica's rows flagged connected
   * and refreshed within {@link staleAfterMs}), from the database.
   */
  async countConnected(now = Date.now()): Promise<number> {
    const row = await this.db
      .selectFrom('data_planes')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('connected', '=', true)
      .where(sql<boolean>`last_seen >= ${now - this.staleAfterMs}`)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * The data planes known in memory (connected to this replica, or disconnected and not yet
   * written), ordered by id: what `/clustering/*` lists while the database is unreachable.
   */
  localRecords(options: { afterId?: string; limit?: number } = {}): DataPlaneRecord[] {
    const rows = [...this.local.values()].filter((r) => options.afterId === undefined || r.id > options.afterId).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return options.limit === undefined ? rows : rows.slice(0, options.limit);
  }

  /** Whether a record's data plane is connected now: flagged so by its replica and refreshed recently. */
  isConnected(record: DataPlaneRecord, now = Date.now()): boolean {
    return record.connected && now - record.lastSeen <= this.staleAfterMs;
  }

  /** The sync status of a data plane against a head ({@link syncStatusOf}). */
  syncStatus(record: DataPlaneRecord, head: { epoch: string; version: number }): SyncStatus {
    return syncStatusOf(record, head);
  }

  /** The API view of a record ({@link dataPlaneView}), connected by {@link isConnected}. */
  view(record: DataPlaneRecord, head: { epoch: string; version: number }, now = Date.now()): DataPlaneView {
    return dataPlaneView(record, head, this.isConnected(record, now));
  }

  /** Deletes rows of data planes not seen for `olderThanMs` (housekeeping; default 7 days). */
  async purge(olderThanMs = 7 * 24 * 3600 * 1000): Promise<number> {
    const res = await this.db
      .deleteFrom('data_planes')
      .where('connected', '=', false)
      .where(sql<boolean>`last_seen < ${Date.now() - olderThanMs}`)
      .executeTakeFirst();
    return Number(res.numDeletedRows ?? 0);
  }
}

import { EventEmitter } from 'node:events';
import { sql, type ColumnType, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { BigIntColumn, Database, JsonColumn } from '../store/database.js';
import type { PluginIncompatibility } from './plugin-compatibility.js';
import { RegistryAdmission, type RegistryAdmissionStats } from './registry-admission.js';
import { DEFAULT_STREAM_LIMITS } from './stream-limits.js';

/** How a data plane stands against the control plane's head. */
export const SyncStatus = {
  IN_SYNC: 'in_sync',
  BEHIND: 'behind',
  REJECTED: 'rejected',
  INCOMPATIBLE: 'incompatible',
} as const;
export type SyncStatus = (typeof SyncStatus)[keyof typeof SyncStatus];

/** A nullable `bigint` column: read as string (pg) or number (PGlite), written as a number. */
type NullableBigIntColumn = ColumnType<string | number | null, number | null, number | null>;

/** The `data_planes` table (migration 0002). Times are epoch milliseconds. */
export interface DataPlanesTable {
  id: string;
  hostname: string;
  ip: string;
  build_version: string;
  protocol_version: number;
  labels: JsonColumn<Record<string, string>>;
  cp_instance_id: string;
  connected: boolean;
  connected_at: NullableBigIntColumn;
  last_seen: BigIntColumn;
  applied_epoch: string;
  applied_version: BigIntColumn;
  applied_hash: string;
  last_error: string | null;
  last_error_code: string | null;
  rejected_version: NullableBigIntColumn;
  incompatible: boolean;
  /** Migration 0009: why the head is withheld from it (capability negotiation), or null. */
  plugin_incompatibility: JsonColumn<PluginIncompatibility | null>;
}

/** What one data plane's connection knows about it; persisted as one `data_planes` row. */
export interface DataPlaneRecord {
  id: string;
  hostname: string;
  ip: string;
  buildVersion: string;
  protocolVersion: number;
  labels: Record<string, string>;
  cpInstanceId: string;
  connected: boolean;
  connectedAt: number | null;
  lastSeen: number;
  appliedEpoch: string;
  appliedVersion: number;
  appliedHash: string;
  lastError: string | null;
  lastErrorCode: string | null;
  rejectedVersion: number | null;
  /** Refused at Hello for its protocol version (never a live connection). */
  incompatible: boolean;
  /**
   * The plugins the head uses that this connected data plane lacks: the head is withheld from it
   * and it keeps serving what it has (capability negotiation); null when nothing is withheld.
   */
  pluginIncompatibility: PluginIncompatibility | null;
}

/** A data plane as the clustering API shows it. */
export interface DataPlaneView {
  id: string;
  hostname: string;
  ip: string;
  version: string;
  labels: Record<string, string>;
  connected: boolean;
  last_seen: number;
  connected_at: number | null;
  control_plane_instance: string;
  config: { epoch: string; version: number; hash: string };
  sync_status: SyncStatus;
  error: { code: string | null; message: string; rejected_version: number | null } | null;
  /** With `sync_status: incompatible` for its plugins: which the head uses that it lacks (else null). */
  incompatible: {
    missing_plugins: readonly string[];
    plugin_versions: readonly { name: string; data_plane_version: string; control_plane_version: string }[];
  } | null;
}

/** Heartbeat intervals a row may go unrefreshed before its data plane counts as disconnected. */
export const STALE_AFTER_HEARTBEATS = 3;

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
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The API view of a plugin incompatibility (`DataPlaneView.incompatible`). */
export function incompatibilityView(finding: PluginIncompatibility | null): DataPlaneView['incompatible'] {
  if (finding === null) return null;
  return {
    missing_plugins: finding.missingPlugins,
    plugin_versions: finding.versionMismatches.map((m) => ({ name: m.name, data_plane_version: m.dataPlaneVersion, control_plane_version: m.controlPlaneVersion })),
  };
}

/** Whether `record` comes from the same connection as `current` or from a newer one of that node. */
function isSameOrNewerConnection(record: DataPlaneRecord, current: DataPlaneRecord): boolean {
  return record.connectedAt === current.connectedAt || (record.connectedAt ?? 0) > (current.connectedAt ?? 0);
}

function fromRow(row: Selectable<DataPlanesTable>): DataPlaneRecord {
  return {
    id: row.id,
    hostname: row.hostname,
    ip: row.ip,
    buildVersion: row.build_version,
    protocolVersion: row.protocol_version,
    labels: row.labels ?? {},
    cpInstanceId: row.cp_instance_id,
    connected: row.connected,
    connectedAt: num(row.connected_at),
    lastSeen: Number(row.last_seen),
    appliedEpoch: row.applied_epoch,
    appliedVersion: Number(row.applied_version),
    appliedHash: row.applied_hash,
    lastError: row.last_error,
    lastErrorCode: row.last_error_code,
    rejectedVersion: num(row.rejected_version),
    incompatible: row.incompatible,
    pluginIncompatibility: row.plugin_incompatibility ?? null,
  };
}

function toRow(r: DataPlaneRecord): Insertable<DataPlanesTable> {
  return {
    id: r.id,
    hostname: r.hostname,
    ip: r.ip,
    build_version: r.buildVersion,
    protocol_version: r.protocolVersion,
    labels: JSON.stringify(r.labels),
    cp_instance_id: r.cpInstanceId,
    connected: r.connected,
    connected_at: r.connectedAt,
    last_seen: r.lastSeen,
    applied_epoch: r.appliedEpoch,
    applied_version: r.appliedVersion,
    applied_hash: r.appliedHash,
    last_error: r.lastError,
    last_error_code: r.lastErrorCode,
    rejected_version: r.rejectedVersion,
    incompatible: r.incompatible,
    plugin_incompatibility: r.pluginIncompatibility === null ? null : JSON.stringify(r.pluginIncompatibility),
  };
}

/**
 * The fleet of data planes, persisted in Postgres so that every control-plane replica (and the
 * Admin API on any of them) sees every data plane. Records of locally connected data planes are
 * kept in memory and written through asynchronously — one write in flight per data plane, later
 * updates coalesced — so a slow or unavailable database never blocks the stream. Emits `persisted`
 * with the record once a local change is in the database (readers of `list()` then see it).
 *
 * A local record belongs to one connection, told apart by its `connectedAt` (unique per connection
 * within a process): only that connection changes it or marks it disconnected, and a newer
 * connection of the same node takes it over. Anything else that claims the node id (a refused
 * Hello, a connection it replaced) never touches it.
 */
export class DataPlaneRegistry extends EventEmitter {
  private readonly db: Kysely<Database & { data_planes: DataPlanesTable }>;
  private readonly logger: Logger;
  readonly cpInstanceId: string;
  readonly staleAfterMs: number;
  private readonly admission: RegistryAdmission;
  /** The record of each locally connected node, owned by its newest connection. */
  private readonly local = new Map<string, DataPlaneRecord>();
  private readonly dirty = new Set<string>();
  private readonly writing = new Map<string, Promise<void>>();
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
    this.local.set(record.id, record);
    this.dirty.add(record.id);
    void this.flush(record.id);
  }

  /** The in-memory record of a locally connected data plane. */
  get(id: string): DataPlaneRecord | undefined {
    return this.local.get(id);
  }

  /** Marks a local data plane disconnected, unless another connection of the same node has replaced it. */
  disconnected(id: string, connectedAt: number | null): void {
    const record = this.local.get(id);
    if (!record || record.connectedAt !== connectedAt) return;
    this.local.set(id, { ...record, connected: false, lastSeen: Date.now() });
    this.dirty.add(id);
    void this.flush(id);
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
    return this.local.has(nodeId) ? Promise.resolve(true) : this.admission.admit(nodeId);
  }

  /**
   * Refreshes `last_seen` of every locally connected data plane (called once per heartbeat
   * interval), and retries the write of disconnected ones whose last write failed.
   */
  touchAll(now = Date.now()): void {
    // While the database is down, disconnected records wait here for their write; past maxRows the
    // longest-known are given up (their rows are shown disconnected once stale anyway).
    let excess = this.local.size - this.maxRows;
    for (const record of this.local.values()) {
      if (record.connected) this.update({ ...record, lastSeen: now });
      else if (excess > 0) {
        this.local.delete(record.id);
        excess--;
      } else if (!this.writing.has(record.id)) {
        this.dirty.add(record.id);
        void this.flush(record.id);
      }
    }
  }

  /** Waits for every pending write (used on shutdown and by tests). */
  async settle(): Promise<void> {
    while (this.writing.size > 0 || this.writingIncompatible !== null) {
      await Promise.allSettled([...this.writing.values(), this.writingIncompatible]);
    }
  }

  private flush(id: string): Promise<void> {
    const running = this.writing.get(id);
    if (running) return running;
    const p = (async () => {
      while (this.dirty.has(id)) {
        this.dirty.delete(id);
        const record = this.local.get(id);
        if (!record) return;
        try {
          await this.write(record);
          this.noteWriteOk();
          this.emit('persisted', record);
          if (!record.connected && this.local.get(id) === record) this.local.delete(id);
        } catch (err) {
          this.noteWriteError(err as Error);
          return;
        }
      }
    })().finally(() => this.writing.delete(id));
    this.writing.set(id, p);
    return p;
  }

  /** Writes the pending incompatible rows one at a time, until none is left. */
  private async flushIncompatible(): Promise<void> {
    for (const [id, record] of this.incompatible) {
      this.incompatible.delete(id);
      try {
        if (!(await this.admit(id))) continue;
        await this.write(record);
        this.noteWriteOk();
        this.emit('persisted', record);
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
    if (!this.lastWriteError) this.logger.warn({ err }, 'cannot persist data-plane state; will retry on the next update');
    this.lastWriteError = err;
  }

  private async write(record: DataPlaneRecord): Promise<void> {
    const row = toRow(record);
    const { id: _id, ...set } = row;
    if (record.connected) {
      await this.db
        .insertInto('data_planes')
        .values(row)
        .onConflict((oc) => oc.column('id').doUpdateSet(set))
        .execute();
    } else if (record.incompatible) {
      // A node refused at Hello never had a row written by its connection: insert it so the fleet
      // shows it `incompatible`, but never over a row a live connection of that node owns.
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
    } else {
      // Only the connection that owns the row may mark it disconnected: the node may already be
      // connected to another replica.
      await this.db
        .updateTable('data_planes')
        .set(set)
        .where('id', '=', record.id)
        .where('cp_instance_id', '=', record.cpInstanceId)
        .where('connected_at', '=', record.connectedAt)
        .execute();
    }
  }

  /** Every known data plane, ordered by id, from the database; `afterId` and `limit` page through them. */
  async list(options: { afterId?: string; limit?: number } = {}): Promise<DataPlaneRecord[]> {
    let q = this.db.selectFrom('data_planes').selectAll().orderBy('id');
    if (options.afterId !== undefined) q = q.where('id', '>', options.afterId);
    if (options.limit !== undefined) q = q.limit(options.limit);
    return (await q.execute()).map(fromRow);
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

  /** The sync status of a data plane against a head. */
  syncStatus(record: DataPlaneRecord, head: { epoch: string; version: number }): SyncStatus {
    if (record.incompatible || record.pluginIncompatibility !== null) return SyncStatus.INCOMPATIBLE;
    if (record.appliedEpoch === head.epoch && record.appliedVersion >= head.version) return SyncStatus.IN_SYNC;
    if (record.rejectedVersion !== null && (record.appliedEpoch !== head.epoch || record.rejectedVersion > record.appliedVersion)) return SyncStatus.REJECTED;
    return SyncStatus.BEHIND;
  }

  /** The API view of a record. */
  view(record: DataPlaneRecord, head: { epoch: string; version: number }, now = Date.now()): DataPlaneView {
    const status = this.syncStatus(record, head);
    return {
      id: record.id,
      hostname: record.hostname,
      ip: record.ip,
      version: record.buildVersion,
      labels: record.labels,
      connected: this.isConnected(record, now),
      last_seen: Math.floor(record.lastSeen / 1000),
      connected_at: record.connectedAt === null ? null : Math.floor(record.connectedAt / 1000),
      control_plane_instance: record.cpInstanceId,
      config: { epoch: record.appliedEpoch, version: record.appliedVersion, hash: record.appliedHash },
      sync_status: status,
      error:
        record.lastError !== null && (status === SyncStatus.REJECTED || status === SyncStatus.INCOMPATIBLE)
          ? { code: record.lastErrorCode, message: record.lastError, rejected_version: record.rejectedVersion }
          : null,
      incompatible: incompatibilityView(record.pluginIncompatibility),
    };
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

import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/database.js';
import type { DataPlanesTable } from './data-plane-record.js';

/**
 * Rows the `data_planes` table may hold, across all replicas (default 20,000: twice one replica's
 * default connection limit). Without mutual TLS anyone who reaches the cluster port can send
 * Hellos with made-up node ids, and each new id would add a row.
 */
export const MAX_DATA_PLANE_ROWS = 20_000;

/**
 * Longest a Hello waits for the decision whether a new node id fits, in ms (default 1000). Past
 * it, or when the database fails, the node is admitted: a slow or unavailable database must not
 * keep data planes from their config (its row is written when the database is back).
 */
export const ADMIT_TIMEOUT_MS = 1_000;

/** Least time between two log lines about evicted rows or refused nodes, in ms (default 10 s); the others are counted. */
export const ADMISSION_LOG_INTERVAL_MS = 10_000;

/** The admission's counters since start. */
export interface RegistryAdmissionStats {
  /** Disconnected (or stale) rows deleted to make room for a new node. */
  rowsEvicted: number;
  /** New nodes refused because every row belonged to a connected data plane. */
  nodesRefused: number;
}

export interface RegistryAdmissionOptions {
  db: Kysely<Database & { data_planes: DataPlanesTable }>;
  logger: Logger;
  /** Rows the table may hold (default {@link MAX_DATA_PLANE_ROWS}). */
  maxRows?: number;
  /** A connected row not refreshed for this long counts as disconnected, in ms (the registry's `staleAfterMs`). */
  staleAfterMs: number;
  /** Longest wait for a decision, in ms (default {@link ADMIT_TIMEOUT_MS}). */
  admitTimeoutMs?: number;
}

/**
 * Keeps the `data_planes` table under `maxRows`: a new node id gets a row when there is room,
 * made if need be by deleting the oldest disconnected (or stale) rows; when every row belongs to a
 * connected data plane the node is refused. Approximate across replicas: Hellos of new nodes
 * decided at the same moment may overshoot the cap by their number.
 */
export class RegistryAdmission {
  private readonly db: Kysely<Database & { data_planes: DataPlanesTable }>;
  private readonly logger: Logger;
  readonly maxRows: number;
  private readonly staleAfterMs: number;
  private readonly admitTimeoutMs: number;
  private readonly counters: RegistryAdmissionStats = { rowsEvicted: 0, nodesRefused: 0 };
  private lastLogMs = 0;
  private eventsNotLogged = 0;

  constructor(options: RegistryAdmissionOptions) {
    this.db = options.db;
    this.logger = options.logger;
    this.maxRows = options.maxRows ?? MAX_DATA_PLANE_ROWS;
    this.staleAfterMs = options.staleAfterMs;
    this.admitTimeoutMs = options.admitTimeoutMs ?? ADMIT_TIMEOUT_MS;
  }

  get stats(): Readonly<RegistryAdmissionStats> {
    return this.counters;
  }

  /**
   * Whether `nodeId` may have a row (it has one, or it fits); false only when the table is full of
   * connected data planes. `unwrittenRows` counts rows this replica has admitted but not written
   * yet (the registry writes in batches).
   */
  async admit(nodeId: string, unwrittenRows = 0): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.admitTimeoutMs);
    });
    try {
      const verdict = await Promise.race([this.makeRoomFor(nodeId, unwrittenRows), timeout]);
      if (verdict !== 'timeout') return verdict;
      this.logger.warn({ node: nodeId, timeoutMs: this.admitTimeoutMs }, 'data-plane registry did not answer in time; admitting the node');
      return true;
    } catch (err) {
      this.logger.warn({ err, node: nodeId }, 'cannot check the data-plane registry cap; admitting the node');
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  private async makeRoomFor(nodeId: string, unwrittenRows: number): Promise<boolean> {
    const known = await this.db.selectFrom('data_planes').select('id').where('id', '=', nodeId).executeTakeFirst();
    if (known !== undefined) return true;
    const { total } = await this.db.selectFrom('data_planes').select((eb) => eb.fn.countAll<string | number>().as('total')).executeTakeFirstOrThrow();
    const excess = Number(total) + unwrittenRows - this.maxRows + 1;
    if (excess <= 0) return true;
    const staleBefore = Date.now() - this.staleAfterMs;
    const oldest = this.db
      .selectFrom('data_planes')
      .select('id')
      .where((eb) => eb.or([eb('connected', '=', false), eb('last_seen', '<', staleBefore)]))
      .orderBy('last_seen')
      .limit(excess);
    const res = await this.db.deleteFrom('data_planes').where('id', 'in', oldest).executeTakeFirst();
    const evicted = Number(res.numDeletedRows ?? 0);
    this.counters.rowsEvicted += evicted;
    if (evicted > 0) this.note({ evicted }, 'data-plane registry full: evicted the oldest disconnected rows');
    if (evicted >= excess) return true;
    this.counters.nodesRefused++;
    this.note({ node: nodeId }, 'data-plane registry full of connected data planes: refusing a new node');
    return false;
  }

  /** Logs an eviction or a refusal, at most once per {@link ADMISSION_LOG_INTERVAL_MS} (made-up node ids must not flood the log). */
  private note(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.lastLogMs < ADMISSION_LOG_INTERVAL_MS) {
      this.eventsNotLogged++;
      return;
    }
    this.logger.warn({ ...fields, maxRows: this.maxRows, ...this.counters, eventsSinceLastLog: this.eventsNotLogged }, message);
    this.lastLogMs = now;
    this.eventsNotLogged = 0;
  }
}

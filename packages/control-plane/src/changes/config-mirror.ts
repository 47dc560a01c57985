import { EventEmitter } from 'node:events';
import {
  type AnyEntity,
  ConfigHash,
  ENTITY_KINDS,
  ENTITY_TYPE_BY_KIND,
  encodeEntity,
  packBatch,
  type EntityKind,
  type PackedBody,
  type Plugin,
  type ResourceMessage,
  type ResourceKeyMessage,
} from '@sluice/protocol';
import type { Logger } from 'pino';
import { DatabaseUnavailableError, StoreError } from '../errors.js';
import type { ConfigChange, ConfigHead, ConfigLogReader } from './config-log-reader.js';
import { PluginsInUse } from './plugins-in-use.js';

/** One entity as the mirror holds it: its exact encoded bytes and the version that last wrote it. */
export interface MirrorResource {
  readonly kind: EntityKind;
  readonly id: string;
  readonly version: number;
  readonly payload: Uint8Array;
}

/** One entity-level change in the in-memory window (payload null for a delete). */
interface WindowChange {
  readonly version: number;
  readonly kind: EntityKind;
  readonly id: string;
  readonly payload: Uint8Array | null;
}

/** A delta ready to send: coalesced changes from one version to the mirror's head, packed once. */
export interface PackedDelta {
  readonly epoch: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly targetHash: Uint8Array;
  readonly body: PackedBody;
  readonly upserts: number;
  readonly removals: number;
}

/** A snapshot ready to send: the whole config at one version, packed once. */
export interface PackedSnapshot {
  readonly epoch: string;
  readonly version: number;
  readonly hash: Uint8Array;
  readonly body: PackedBody;
  readonly entityCount: number;
}

export interface ConfigMirrorOptions {
  source: ConfigLogReader;
  logger: Logger;
  /** How often the log is polled when no NOTIFY arrives, in ms (default 1000). NOTIFY is only a hint. */
  pollIntervalMs?: number;
  /** Most entity changes kept in memory for deltas (default 100,000); older deltas are read from the database. */
  maxWindowChanges?: number;
  /** Packed deltas kept for reuse by other data planes at the same version (default 64). */
  maxCachedDeltas?: number;
}

export const DEFAULT_POLL_INTERVAL_MS = 1000;
export const DEFAULT_MAX_WINDOW_CHANGES = 100_000;
export const DEFAULT_MAX_CACHED_DELTAS = 64;
/** A delta changing more than this share of the config is sent as a snapshot instead (smaller, and replaces everything). */
export const MAX_DELTA_SHARE = 0.5;
/** But a delta of up to this many entities is always sent as a delta, however small the config. */
export const MIN_DELTA_CAP_ENTITIES = 64;

const keyOf = (kind: EntityKind, id: string) => kind + '/' + id;

/**
 * This replica's in-memory copy of the configuration: loaded from one consistent database snapshot
 * at start, then advanced strictly in version order from the change log (woken by NOTIFY, backed by
 * polling). Snapshots and deltas are served from here, each packed once per version and shared by
 * every data plane. Emits `head` with the new version after every advance, and `reset` when the
 * database epoch changes (restore/reset), after which every data plane needs a snapshot.
 *
 * Invariant: `version` only moves forward within an epoch, and the mirror at version V holds exactly
 * the effects of every change with version <= V (the log is gap-free: see the store).
 */
export class ConfigMirror extends EventEmitter {
  epoch = '';
  version = 0;
  minRetainedVersion = 0;
  /** Oldest version from which a delta can be built from memory. */
  windowStartVersion = 0;
  readonly resources = new Map<string, MirrorResource>();
  /** The plugin names the config at `version` uses (capability negotiation), moved with each change. */
  readonly pluginsInUse = new PluginsInUse();
  private hash = new ConfigHash();
  private window: WindowChange[] = [];
  private readonly source: ConfigLogReader;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly maxWindowChanges: number;
  private readonly maxCachedDeltas: number;
  private snapshotCache: PackedSnapshot | null = null;
  private readonly deltaCache = new Map<number, PackedDelta>();
  private catchUpRunning: Promise<void> | null = null;
  private catchUpAgain = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  /** Last error reading the database, or null once a read succeeds again. */
  lastError: Error | null = null;
  /** When the change log was last read successfully, in ms since the Unix epoch. */
  lastReadMs = Date.now();
  /** Highest version announced by NOTIFY in the current epoch (may run ahead of `version` until it is read). */
  announcedVersion = 0;
  /** The last snapshot packed (for its size), or null before the first. */
  lastPackedSnapshot: PackedSnapshot | null = null;

  constructor(options: ConfigMirrorOptions) {
    super();
    this.source = options.source;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.maxWindowChanges = options.maxWindowChanges ?? DEFAULT_MAX_WINDOW_CHANGES;
    this.maxCachedDeltas = options.maxCachedDeltas ?? DEFAULT_MAX_CACHED_DELTAS;
  }

  /** Loads the config and starts following the change log. */
  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = this.source.onConfigChange((version) => {
      this.announcedVersion = Math.max(this.announcedVersion, version);
      void this.catchUp();
    });
    const tick = () => {
      this.pollTimer = setTimeout(() => {
        void this.catchUp().finally(() => {
          if (this.pollTimer) tick();
        });
      }, this.pollIntervalMs);
      this.pollTimer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The content hash at the current version. */
  hashBytes(): Uint8Array {
    return this.hash.bytes();
  }

  hashHex(): string {
    return this.hash.hex();
  }

  /**
   * Advances to the database head. Calls are serialised; a call made while one runs makes that one
   * run again, so no wake-up is lost. Never throws: a database error is kept in `lastError` and the
   * mirror keeps serving what it has.
   */
  catchUp(): Promise<void> {
    if (this.catchUpRunning) {
      this.catchUpAgain = true;
      return this.catchUpRunning;
    }
    this.catchUpRunning = (async () => {
      do {
        this.catchUpAgain = false;
        try {
          await this.advance();
          if (this.lastError) this.logger.info({ version: this.version }, 'reading the change log again');
          this.lastError = null;
          this.lastReadMs = Date.now();
        } catch (err) {
          if (!this.lastError) this.logger.warn({ err }, 'cannot read the change log; serving the last known config');
          this.lastError = err as Error;
        }
      } while (this.catchUpAgain);
    })().finally(() => {
      this.catchUpRunning = null;
    });
    return this.catchUpRunning;
  }

  private async advance(): Promise<void> {
    // One round trip per wake-up: the head and what follows our version, read together.
    const { head, changes } = await this.source.readHeadAndChanges(this.version);
    if (head.epoch !== this.epoch) {
      this.logger.warn({ from: this.epoch, to: head.epoch }, 'config epoch changed: reloading the whole config');
      await this.reload();
      return;
    }
    this.minRetainedVersion = head.minRetainedVersion;
    if (head.version <= this.version) return;
    this.applyChanges(changes, head.version);
  }

  private async reload(): Promise<void> {
    const { head, entities } = await this.source.loadSnapshot();
    const previousEpoch = this.epoch;
    this.resources.clear();
    this.pluginsInUse.clear();
    this.hash = new ConfigHash();
    this.window = [];
    this.deltaCache.clear();
    this.snapshotCache = null;
    for (const kind of ENTITY_KINDS) {
      for (const entity of entities[kind] as AnyEntity[]) {
        this.put(kind, entity.id, encodeEntity<EntityKind>(kind, entity), head.version);
        if (kind === 'plugins') this.pluginsInUse.set(entity.id, (entity as Plugin).name);
      }
    }
    if (this.epoch !== head.epoch) this.announcedVersion = head.version;
    this.epoch = head.epoch;
    this.version = head.version;
    this.minRetainedVersion = head.minRetainedVersion;
    this.windowStartVersion = head.version;
    this.logger.info({ epoch: this.epoch, version: this.version, entities: this.resources.size }, 'config loaded');
    if (previousEpoch !== '' && previousEpoch !== head.epoch) this.emit('reset', this.epoch);
    this.emit('head', this.version);
  }

  private put(kind: EntityKind, id: string, payload: Uint8Array, version: number): void {
    this.resources.set(keyOf(kind, id), { kind, id, version, payload });
    this.hash.set(kind, id, payload);
  }

  /** Applies log rows (already ordered) and moves the head. Rows must cover (version, upTo] with no gap. */
  private applyChanges(changes: readonly ConfigChange[], upTo: number): void {
    let expected = this.version;
    for (const change of changes) {
      if (change.version !== expected && change.version !== expected + 1) {
        // The log is gap-free by construction; a hole means the store broke its contract.
        throw new StoreError(`change log gap: expected version ${expected + 1}, got ${change.version}`);
      }
      expected = change.version;
      const kind = change.entityType;
      if (change.op === 'delete' || change.entity === null) {
        this.resources.delete(keyOf(kind, change.entityId));
        this.hash.delete(kind, change.entityId);
        if (kind === 'plugins') this.pluginsInUse.delete(change.entityId);
        this.window.push({ version: change.version, kind, id: change.entityId, payload: null });
      } else {
        const payload = encodeEntity(kind, change.entity);
        this.put(kind, change.entityId, payload, change.version);
        if (kind === 'plugins') this.pluginsInUse.set(change.entityId, (change.entity as Plugin).name);
        this.window.push({ version: change.version, kind, id: change.entityId, payload });
      }
    }
    this.version = upTo;
    this.snapshotCache = null;
    this.deltaCache.clear();
    this.trimWindow();
    this.emit('head', this.version);
  }

  private trimWindow(): void {
    if (this.window.length <= this.maxWindowChanges) return;
    // Drop whole versions from the front so the window always starts on a version boundary.
    let cut = this.window.length - this.maxWindowChanges;
    const boundary = this.window[cut - 1].version;
    while (cut < this.window.length && this.window[cut].version === boundary) cut++;
    this.window = this.window.slice(cut);
    this.windowStartVersion = boundary;
  }

  /** The whole config at the current head, packed once per version. */
  snapshot(): PackedSnapshot {
    if (this.snapshotCache && this.snapshotCache.version === this.version && this.snapshotCache.epoch === this.epoch) return this.snapshotCache;
    const upserts: ResourceMessage[] = [];
    for (const r of this.resources.values()) upserts.push({ type: ENTITY_TYPE_BY_KIND[r.kind], id: r.id, version: r.version, payload: r.payload });
    this.snapshotCache = { epoch: this.epoch, version: this.version, hash: this.hash.bytes(), body: packBatch({ upserts }), entityCount: upserts.length };
    this.lastPackedSnapshot = this.snapshotCache;
    return this.snapshotCache;
  }

  /**
   * The coalesced delta from `fromVersion` to the head, packed once and shared by every data plane
   * at that version; `null` when it cannot be built (older than the retained log) or would be
   * bigger than half the config, in which case a snapshot is the better push. Reads the database
   * only for versions older than the in-memory window; while the database is unavailable such a
   * delta is `null` too (the snapshot comes from memory).
   */
  async delta(fromVersion: number): Promise<PackedDelta | null> {
    if (fromVersion >= this.version) return null;
    const cached = this.deltaCache.get(fromVersion);
    if (cached && cached.toVersion === this.version) return cached;
    const epoch = this.epoch;
    const toVersion = this.version;
    let changes: Map<string, WindowChange>;
    if (fromVersion >= this.windowStartVersion) {
      changes = new Map();
      // The window is ordered by version: find the first change after fromVersion, then coalesce.
      let lo = 0;
      let hi = this.window.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.window[mid].version <= fromVersion) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < this.window.length; i++) {
        const c = this.window[i];
        changes.set(keyOf(c.kind, c.id), c);
      }
    } else {
      if (fromVersion < this.minRetainedVersion) return null;
      let rows: ConfigChange[];
      try {
        rows = await this.source.readChanges(fromVersion, toVersion);
      } catch (err) {
        // The database is away: a snapshot from memory serves this data plane instead.
        if (err instanceof DatabaseUnavailableError) return null;
        throw err;
      }
      if (this.epoch !== epoch || this.version !== toVersion) return this.delta(fromVersion);
      changes = new Map();
      for (const row of rows) {
        // Only the final state matters; take the entity's current bytes from memory (same head).
        changes.set(keyOf(row.entityType, row.entityId), { version: row.version, kind: row.entityType, id: row.entityId, payload: null });
      }
      for (const [key, c] of changes) {
        const current = this.resources.get(key);
        if (current) changes.set(key, { ...c, payload: current.payload, version: current.version });
      }
    }
    if (changes.size > Math.max(MIN_DELTA_CAP_ENTITIES, this.resources.size * MAX_DELTA_SHARE)) return null;
    const upserts: ResourceMessage[] = [];
    const removals: ResourceKeyMessage[] = [];
    for (const c of changes.values()) {
      if (c.payload === null) removals.push({ type: ENTITY_TYPE_BY_KIND[c.kind], id: c.id });
      else upserts.push({ type: ENTITY_TYPE_BY_KIND[c.kind], id: c.id, version: c.version, payload: c.payload });
    }
    const packed: PackedDelta = { epoch, fromVersion, toVersion, targetHash: this.hash.bytes(), body: packBatch({ upserts, removals }), upserts: upserts.length, removals: removals.length };
    if (this.deltaCache.size >= this.maxCachedDeltas) this.deltaCache.delete(this.deltaCache.keys().next().value as number);
    this.deltaCache.set(fromVersion, packed);
    return packed;
  }

  /** Versions announced by NOTIFY but not read yet (0 when caught up). */
  lagVersions(): number {
    return Math.max(0, this.announcedVersion - this.version);
  }

  /** Current head as the control plane announces it. */
  head(): ConfigHead & { hash: Uint8Array } {
    return { epoch: this.epoch, version: this.version, minRetainedVersion: this.minRetainedVersion, hash: this.hash.bytes() };
  }
}

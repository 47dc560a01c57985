import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheCorruptError, CacheIoError, type DataPlaneError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { applySnapshot } from './apply-snapshot.js';
import { decodeCacheFile, writeCacheFile, type CacheFileContents } from './cache-file.js';
import {
  DEFAULT_JOURNAL_LIMITS,
  appendJournal,
  encodeJournalHeader,
  encodeJournalRecord,
  journalRecordBytes,
  journalRecordOf,
  readJournal,
  readJournalFile,
  replayJournal,
  type JournalContents,
  type JournalLimits,
  type JournalRecord,
  type JournalStep,
} from './cache-journal.js';
import { SLUICE_VERSION } from '../proxy/proxy-server-options.js';
import { ConfigOrigin, type RuntimeConfig } from './runtime-config.js';
import type { ResourceBatchMessage } from '@sluice/protocol';
import { tempPrefix, writeFileAtomic, type WriteStep } from './write-file-atomic.js';

/** Default cache directory, relative to the working directory. */
export const DEFAULT_CACHE_DIR = '.sluice/dp';

/** Name of the current cache file in the cache directory. */
export const CACHE_FILE_NAME = 'config';

/** Name of the previous generation, kept as a fallback when the current file is corrupt. */
export const CACHE_PREVIOUS_FILE_NAME = 'config.prev';

/** Name of the journal: the deltas applied since the base file it names was written (`cache-journal.ts`). */
export const CACHE_JOURNAL_FILE_NAME = 'config.journal';

/**
 * Least time between the starts of two cache writes, in ms (default 200). A burst of applies is
 * coalesced into at most one write per interval, always of the newest config.
 */
export const CACHE_WRITE_INTERVAL_MS = 200;

/**
 * Bound on how long after an apply its config (or a newer one) is on disk, in ms (default 1000):
 * at most `CACHE_WRITE_INTERVAL_MS` plus the write already in progress plus its own write. A write
 * is usually a journal append (the records of the deltas since the last write: a few KB, one
 * fdatasync); after a snapshot, a failure, or `CACHE_JOURNAL_MAX_RECORDS` deltas, it rewrites the
 * base (streamed in `CACHE_CHUNK_BYTES` chunks, two fsyncs: ~0.3 s for 23 MB, 100,000 routes).
 * Holds while a base write takes under 700 ms, i.e. tens of MB on an ordinary SSD; `flush()` waits
 * for it explicitly.
 */
export const CACHE_MAX_LAG_MS = 1000;

/** Options of `ConfigCache`. */
export interface ConfigCacheOptions {
  /** The cache directory (default `.sluice/dp`); created if missing. */
  readonly dir: string;
  readonly logger?: Logger;
  /** Least time between write starts, in ms (default `CACHE_WRITE_INTERVAL_MS`). */
  readonly writeIntervalMs?: number;
  /** Test hook called after each step of each write (see `writeFileAtomic`, and `JournalStep` for an append). */
  readonly onWriteStep?: (step: WriteStep | JournalStep) => void | Promise<void>;
  /** The plugins this data plane runs (default every bundled one): a cached config naming another is refused. */
  readonly plugins?: PluginRuntime;
  /** The journal's bounds (default `DEFAULT_JOURNAL_LIMITS`: 10,000 records, 16 MiB, 1 MiB per write). */
  readonly journalLimits?: Partial<JournalLimits>;
}

/** What `load()` found: the config to serve (or null), which file it came from, and why others were refused. */
export interface CacheLoadResult {
  readonly config: RuntimeConfig | null;
  readonly file: string | null;
  readonly errors: readonly DataPlaneError[];
}

/** What is on disk, as last written or loaded. */
export interface CachedState {
  readonly epoch: string;
  readonly version: number;
  readonly hashHex: string;
}

/** The delta an applied config was built by, as `schedule` takes it: its journal record is appended instead of the whole config. */
export interface ScheduledDelta {
  readonly fromVersion: number;
  readonly batch: ResourceBatchMessage;
}

/** The base file this process may append to (the good current `config`), and its journal. */
interface AppendTarget {
  readonly baseDigest: Uint8Array;
  /** Size of the base file, in bytes: the journal never grows past it. */
  readonly baseBytes: number;
  /** Bytes and records of the journal on disk that extends this base and ends on a record; null when there is none yet. */
  journal: { bytes: number; records: number } | null;
}

const stateOf = (config: RuntimeConfig): CachedState => ({ epoch: config.epoch, version: config.version, hashHex: config.hashHex });

/**
 * The data plane's on-disk config cache: `config` (current) and `config.prev` (the previous
 * generation), each a checksummed cache file (see `encodeCacheFile`) written crash-safely, and
 * `config.journal`, the deltas applied since `config` was written, one checksummed record each
 * (see `encodeJournalHeader`).
 *
 * A write appends the records of the deltas applied since the last write when it can: the configs
 * scheduled since then were each built by a delta from the one before (`schedule(config, delta)`),
 * and the journal stays within `CACHE_JOURNAL_MAX_RECORDS`, `CACHE_JOURNAL_MAX_BYTES` (and the
 * base's size) and `CACHE_JOURNAL_MAX_APPEND_BYTES`. Otherwise it rewrites the base (compaction),
 * a chunk at a time so the event loop is never held, and the journal starts again. Either way its
 * cost does not grow with the config between compactions.
 *
 * `load()` verifies and fully validates a file, with its journal replayed, before it is served,
 * falling back to `config.prev`; a corrupt or truncated file is reported and never served, a torn or
 * corrupt journal record is dropped with the records after it. `schedule()` coalesces bursts of
 * applies; the newest config is on disk within `CACHE_MAX_LAG_MS`. One write at a time.
 */
export class ConfigCache {
  readonly dir: string;
  readonly path: string;
  readonly previousPath: string;
  readonly journalPath: string;
  private readonly logger: Logger;
  private readonly writeIntervalMs: number;
  private readonly onWriteStep: ConfigCacheOptions['onWriteStep'];
  private readonly plugins: ConfigCacheOptions['plugins'];
  private readonly limits: JournalLimits;
  private pending: RuntimeConfig | null = null;
  /**
   * The records that take what is on disk (`written`) to `pending`, in order, and their bytes; null
   * when there are none that do (no state known, a snapshot, too large): the next write is a base.
   */
  private pendingRecords: JournalRecord[] | null = null;
  private pendingRecordBytes = 0;
  /** The newest config scheduled or on disk: the base the next scheduled delta must go from to be journaled. */
  private tip: CachedState | null = null;
  /** Where an append can go; null when the next write must rewrite the base. */
  private appendTarget: AppendTarget | null = null;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastWriteStartMs = 0;
  private written: CachedState | null = null;
  /** Whether `config` on disk is known good: only then is it rotated to `config.prev` (a corrupt one is just replaced). */
  private isCurrentFileGood = false;
  /** The last write failure, cleared by the next successful write. */
  lastError: DataPlaneError | null = null;
  /** When `lastError` happened, in ms since the Unix epoch. */
  lastErrorAtMs = 0;

  constructor(options: ConfigCacheOptions) {
    this.dir = options.dir;
    this.path = join(options.dir, CACHE_FILE_NAME);
    this.previousPath = join(options.dir, CACHE_PREVIOUS_FILE_NAME);
    this.journalPath = join(options.dir, CACHE_JOURNAL_FILE_NAME);
    this.logger = options.logger ?? silentLogger;
    this.writeIntervalMs = options.writeIntervalMs ?? CACHE_WRITE_INTERVAL_MS;
    this.onWriteStep = options.onWriteStep;
    this.plugins = options.plugins;
    // Field by field, so a limit passed as `undefined` falls back to its default rather than
    // disabling the bound (`n > undefined` is always false).
    const limits = options.journalLimits;
    this.limits = {
      maxRecords: limits?.maxRecords ?? DEFAULT_JOURNAL_LIMITS.maxRecords,
      maxBytes: limits?.maxBytes ?? DEFAULT_JOURNAL_LIMITS.maxBytes,
      maxAppendBytes: limits?.maxAppendBytes ?? DEFAULT_JOURNAL_LIMITS.maxAppendBytes,
    };
  }

  /** Creates the directory if needed and removes temp files a crash left behind. */
  async open(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(this.dir)) {
        if ([this.path, this.previousPath, this.journalPath].some((p) => name.startsWith(tempPrefix(p)))) {
          this.logger.warn({ file: join(this.dir, name) }, 'removing a partial cache temp file left by a crash');
          await unlink(join(this.dir, name)).catch(() => undefined);
        }
      }
    } catch (cause) {
      throw new CacheIoError(`cannot open cache directory ${this.dir}: ${(cause as Error).message}`, { cause });
    }
  }

  /** What is on disk now, as far as this process knows (last written or loaded), or null. */
  get state(): CachedState | null {
    return this.written;
  }

  /**
   * Loads the newest valid cache: `config`, else `config.prev`, each with the journal's records
   * replayed when the journal names that file as its base. Each is checked (magic, format, header
   * and body checksums, length), decoded, and validated exactly like a snapshot, including its hash
   * against the header's (or the last replayed record's); a file that fails is logged and skipped,
   * never served. A journal record that is torn, corrupt or out of sequence is dropped with the
   * records after it: the file with the records before it is served. A replay that does not
   * validate (never expected: each record was a validated delta) is dropped whole: the file alone
   * is served.
   */
  async load(): Promise<CacheLoadResult> {
    const errors: DataPlaneError[] = [];
    const journal = await readJournalFile(this.journalPath, errors, this.limits.maxBytes);
    for (const file of [this.path, this.previousPath]) {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
        errors.push(new CacheIoError(`cannot read ${file}: ${(cause as Error).message}`, { cause }));
        continue;
      }
      try {
        const contents = decodeCacheFile(bytes, file);
        const journaled = journal === null ? null : this.journalOnto(contents, journal, errors);
        let config: RuntimeConfig | null = null;
        if (journaled !== null && journaled.records.length > 0) {
          const last = journaled.records[journaled.records.length - 1];
          const replayed = this.build(contents, replayJournal(contents.batch, journaled.records), { epoch: contents.epoch, version: last.toVersion, hash: last.hash });
          if (replayed.ok) config = replayed.config;
          else errors.push(new CacheCorruptError(this.journalPath, `replayed onto ${file}, does not validate: ${replayed.error.message}; serving the file alone`, { cause: replayed.error }));
        }
        const isReplayRefused = journaled !== null && journaled.records.length > 0 && config === null;
        if (config === null) {
          const result = this.build(contents, contents.batch, contents);
          if (!result.ok) throw new CacheCorruptError(file, `does not validate: ${result.error.message}`, { cause: result.error });
          config = result.config;
        }
        this.written = stateOf(config);
        this.tip = this.written;
        this.pendingRecords = [];
        this.pendingRecordBytes = 0;
        this.isCurrentFileGood = file === this.path;
        // Appends go on from what was served only onto the current file, and only when the journal
        // (if it extends that file) ends with the records served; otherwise the next write is a base.
        const isAppendable = this.isCurrentFileGood && !isReplayRefused && (journaled === null || journaled.droppedTail === null);
        this.appendTarget = isAppendable
          ? { baseDigest: contents.headerDigest, baseBytes: bytes.byteLength, journal: journaled === null ? null : { bytes: journaled.validBytes, records: journaled.records.length } }
          : null;
        for (const error of errors) this.logger.error({ err: error, code: error.code }, 'cache file refused; serving the previous generation');
        return { config, file, errors };
      } catch (err) {
        errors.push(err instanceof CacheCorruptError ? err : new CacheCorruptError(file, (err as Error).message, { cause: err }));
      }
    }
    for (const error of errors) this.logger.error({ err: error, code: error.code }, 'cache file refused');
    return { config: null, file: null, errors };
  }

  private build(contents: CacheFileContents, batch: ResourceBatchMessage, target: { epoch: string; version: number; hash: Uint8Array }) {
    // A file this build wrote holds only entities this build validated, and its checksums prove
    // it is what was written: Kong's schema rules need not run again (they dominate a cold start
    // with a large config). A file from another build is validated in full.
    const isSchemaChecked = contents.writtenBy === SLUICE_VERSION;
    return applySnapshot(batch, target, { source: ConfigOrigin.CACHE, isSchemaChecked, plugins: this.plugins });
  }

  /** The journal's records when it extends the file `contents` came from (null when it names another), its dropped tail reported in `errors`. */
  private journalOnto(contents: CacheFileContents, journal: Buffer, errors: DataPlaneError[]): JournalContents | null {
    let records: JournalContents;
    try {
      records = readJournal(journal, this.journalPath, contents.version);
    } catch (err) {
      errors.push(err as CacheCorruptError);
      return null;
    }
    if (!Buffer.from(records.baseDigest).equals(contents.headerDigest)) return null;
    if (records.droppedTail !== null) errors.push(new CacheCorruptError(this.journalPath, `dropped the tail: ${records.droppedTail}`));
    return records;
  }

  /**
   * Asks for `config` to be persisted; `delta` is the delta that built it from the config scheduled
   * before it, if one did (then its record is journaled instead of the whole config being
   * rewritten). Coalesced: if a write is running or one started less than `writeIntervalMs` ago,
   * only the newest config scheduled meanwhile is written, after it.
   */
  schedule(config: RuntimeConfig, delta?: ScheduledDelta): void {
    if (this.written && this.written.epoch === config.epoch && this.written.version === config.version && this.written.hashHex === config.hashHex && !this.writing) {
      this.pending = null;
      this.pendingRecords = [];
      this.pendingRecordBytes = 0;
      this.tip = this.written;
      return;
    }
    const tip = this.tip;
    if (delta === undefined || this.pendingRecords === null || tip === null || tip.epoch !== config.epoch || tip.version !== delta.fromVersion) {
      this.pendingRecords = null;
    } else {
      const record = journalRecordOf(config, delta);
      const bytes = record === null ? Infinity : journalRecordBytes(record);
      if (record === null || this.pendingRecordBytes + bytes > this.limits.maxAppendBytes) {
        this.pendingRecords = null;
      } else {
        this.pendingRecords.push(record);
        this.pendingRecordBytes += bytes;
      }
    }
    this.tip = stateOf(config);
    this.pending = config;
    this.kick();
  }

  /** Resolves once everything scheduled before the call is on disk (or has failed: see `lastError`). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.run();
      }
      if (this.writing) {
        await this.writing;
        continue;
      }
      if (this.pending) {
        this.run();
        continue;
      }
      return;
    }
  }

  /** Flushes and stops. */
  async close(): Promise<void> {
    await this.flush();
  }

  private kick(): void {
    if (this.writing || this.timer || !this.pending) return;
    const delay = Math.max(0, this.lastWriteStartMs + this.writeIntervalMs - Date.now());
    if (delay === 0) {
      this.run();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, delay);
    this.timer.unref();
  }

  private run(): void {
    const config = this.pending;
    if (!config || this.writing) return;
    const records = this.pendingRecords;
    this.pending = null;
    // The configs scheduled from here on chain from this one: on disk once this write succeeds.
    this.pendingRecords = [];
    this.pendingRecordBytes = 0;
    this.lastWriteStartMs = Date.now();
    this.writing = this.write(config, records).finally(() => {
      this.writing = null;
      this.kick();
    });
  }

  private async write(config: RuntimeConfig, records: JournalRecord[] | null): Promise<void> {
    const started = performance.now();
    try {
      const appended = records !== null && (await this.append(config, records));
      if (!appended) await this.writeBase(config);
      this.written = stateOf(config);
      this.lastError = null;
      this.logger.debug({ epoch: config.epoch, version: config.version, appended, ms: Math.round(performance.now() - started) }, 'config cached');
    } catch (err) {
      // What is on disk is now unknown past the last good state: the next write rewrites the base.
      this.appendTarget = null;
      this.pendingRecords = null;
      this.lastErrorAtMs = Date.now();
      this.lastError = err instanceof CacheIoError ? err : new CacheIoError(`cache write failed: ${(err as Error).message}`, { cause: err });
      this.logger.error({ err: this.lastError, code: this.lastError.code }, 'cannot write the config cache; the served config is unaffected');
    }
  }

  /**
   * Appends `records` (from the state on disk to `config`) to the journal, creating it for the
   * current base if there is none yet; false, having written nothing, when they do not chain from
   * what is on disk or would take the journal past its bounds.
   */
  private async append(config: RuntimeConfig, records: JournalRecord[]): Promise<boolean> {
    const target = this.appendTarget;
    const written = this.written;
    if (target === null || written === null || records.length === 0 || written.epoch !== config.epoch || records[0].fromVersion !== written.version) return false;
    const encoded = records.map(encodeJournalRecord);
    const journal = target.journal;
    const header = journal === null ? encodeJournalHeader(target.baseDigest) : null;
    const bytes = encoded.reduce((n, b) => n + b.byteLength, header?.byteLength ?? 0);
    const journalBytes = (journal?.bytes ?? 0) + bytes;
    const journalRecords = (journal?.records ?? 0) + records.length;
    if (journalRecords > this.limits.maxRecords || journalBytes > Math.min(this.limits.maxBytes, target.baseBytes)) return false;
    const data = Buffer.concat(header ? [header, ...encoded] : encoded);
    if (header) {
      // A new journal replaces the one of the previous base whole (temp file, fsync, rename).
      await writeFileAtomic(this.journalPath, data, { onStep: this.onWriteStep });
    } else {
      await appendJournal(this.journalPath, data, this.onWriteStep);
    }
    target.journal = { bytes: journalBytes, records: journalRecords };
    return true;
  }

  /** Rewrites the base from `config` (the journal, which names the previous base, no longer applies to it). */
  private async writeBase(config: RuntimeConfig): Promise<void> {
    const base = await writeFileAtomic(this.path, (file) => writeCacheFile(file, config), {
      previousPath: this.isCurrentFileGood ? this.previousPath : undefined,
      onStep: this.onWriteStep,
    });
    this.isCurrentFileGood = true;
    this.appendTarget = { baseDigest: base.headerDigest, baseBytes: base.bytes, journal: null };
  }
}

import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheCorruptError, CacheIoError, type DataPlaneError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { applySnapshot } from './apply-snapshot.js';
import { decodeCacheFile, encodeCacheFileAsync } from './cache-file.js';
import { SLUICE_VERSION } from '../proxy/proxy-server-options.js';
import { ConfigOrigin, type RuntimeConfig } from './runtime-config.js';
import { tempPrefix, writeFileAtomic, type WriteStep } from './write-file-atomic.js';

/** Default cache directory, relative to the working directory. */
export const DEFAULT_CACHE_DIR = '.sluice/dp';

/** Name of the current cache file in the cache directory. */
export const CACHE_FILE_NAME = 'config';

/** Name of the previous generation, kept as a fallback when the current file is corrupt. */
export const CACHE_PREVIOUS_FILE_NAME = 'config.prev';

/**
 * Least time between the starts of two cache writes, in ms (default 200). A burst of applies is
 * coalesced into at most one write per interval, always of the newest config.
 */
export const CACHE_WRITE_INTERVAL_MS = 200;

/**
 * Bound on how long after an apply its config (or a newer one) is on disk, in ms (default 1000):
 * at most `CACHE_WRITE_INTERVAL_MS` plus the write already in progress plus its own write. Holds
 * while one write (encode, write, two fsyncs) takes under 400 ms, i.e. tens of MB on an ordinary
 * SSD; `flush()` waits for it explicitly.
 */
export const CACHE_MAX_LAG_MS = 1000;

/** Options of `ConfigCache`. */
export interface ConfigCacheOptions {
  /** The cache directory (default `.sluice/dp`); created if missing. */
  readonly dir: string;
  readonly logger?: Logger;
  /** Least time between write starts, in ms (default `CACHE_WRITE_INTERVAL_MS`). */
  readonly writeIntervalMs?: number;
  /** Test hook called after each step of each write (see `writeFileAtomic`). */
  readonly onWriteStep?: (step: WriteStep) => void | Promise<void>;
  /** The plugins this data plane runs (default every bundled one): a cached config naming another is refused. */
  readonly plugins?: PluginRuntime;
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

/**
 * The data plane's on-disk config cache: `config` (current) and `config.prev` (the previous
 * generation), each a checksummed cache file (see `encodeCacheFile`) written crash-safely.
 *
 * `load()` verifies and fully validates a file before it is served, falling back to `config.prev`;
 * a corrupt or truncated file is reported and never served. `schedule()` coalesces bursts of
 * applies; the newest config is on disk within `CACHE_MAX_LAG_MS`. One write at a time.
 */
export class ConfigCache {
  readonly dir: string;
  readonly path: string;
  readonly previousPath: string;
  private readonly logger: Logger;
  private readonly writeIntervalMs: number;
  private readonly onWriteStep: ConfigCacheOptions['onWriteStep'];
  private readonly plugins: ConfigCacheOptions['plugins'];
  private pending: RuntimeConfig | null = null;
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
    this.logger = options.logger ?? silentLogger;
    this.writeIntervalMs = options.writeIntervalMs ?? CACHE_WRITE_INTERVAL_MS;
    this.onWriteStep = options.onWriteStep;
    this.plugins = options.plugins;
  }

  /** Creates the directory if needed and removes temp files a crash left behind. */
  async open(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(this.dir)) {
        if (name.startsWith(tempPrefix(this.path)) || name.startsWith(tempPrefix(this.previousPath))) {
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
   * Loads the newest valid cache: `config`, else `config.prev`. Each is checked (magic, format,
   * header and body checksums, length), decoded, and validated exactly like a snapshot, including
   * its hash against the header's; a file that fails is logged and skipped, never served.
   */
  async load(): Promise<CacheLoadResult> {
    const errors: DataPlaneError[] = [];
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
        // A file this build wrote holds only entities this build validated, and its checksums prove
        // it is what was written: Kong's schema rules need not run again (they dominate a cold start
        // with a large config). A file from another build is validated in full.
        const isSchemaChecked = contents.writtenBy === SLUICE_VERSION;
        const result = applySnapshot(contents.batch, { epoch: contents.epoch, version: contents.version, hash: contents.hash }, { source: ConfigOrigin.CACHE, isSchemaChecked, plugins: this.plugins });
        if (!result.ok) throw new CacheCorruptError(file, `does not validate: ${result.error.message}`, { cause: result.error });
        this.written = { epoch: result.config.epoch, version: result.config.version, hashHex: result.config.hashHex };
        this.isCurrentFileGood = file === this.path;
        for (const error of errors) this.logger.error({ err: error, code: error.code }, 'cache file refused; serving the previous generation');
        return { config: result.config, file, errors };
      } catch (err) {
        errors.push(err instanceof CacheCorruptError ? err : new CacheCorruptError(file, (err as Error).message, { cause: err }));
      }
    }
    for (const error of errors) this.logger.error({ err: error, code: error.code }, 'cache file refused');
    return { config: null, file: null, errors };
  }

  /**
   * Asks for `config` to be persisted. Coalesced: if a write is running or one started less than
   * `writeIntervalMs` ago, only the newest config scheduled meanwhile is written, after it.
   */
  schedule(config: RuntimeConfig): void {
    if (this.written && this.written.epoch === config.epoch && this.written.version === config.version && this.written.hashHex === config.hashHex && !this.writing) {
      this.pending = null;
      return;
    }
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
    this.pending = null;
    if (!config || this.writing) {
      if (config) this.pending = config;
      return;
    }
    this.lastWriteStartMs = Date.now();
    this.writing = this.write(config).finally(() => {
      this.writing = null;
      this.kick();
    });
  }

  private async write(config: RuntimeConfig): Promise<void> {
    const started = performance.now();
    try {
      await writeFileAtomic(this.path, await encodeCacheFileAsync(config), {
        previousPath: this.isCurrentFileGood ? this.previousPath : undefined,
        onStep: this.onWriteStep,
      });
      this.isCurrentFileGood = true;
      this.written = { epoch: config.epoch, version: config.version, hashHex: config.hashHex };
      this.lastError = null;
      this.logger.debug({ epoch: config.epoch, version: config.version, ms: Math.round(performance.now() - started) }, 'config cached');
    } catch (err) {
      this.lastErrorAtMs = Date.now();
      this.lastError = err instanceof CacheIoError ? err : new CacheIoError(`cache write failed: ${(err as Error).message}`, { cause: err });
      this.logger.error({ err: this.lastError, code: this.lastError.code }, 'cannot write the config cache; the served config is unaffected');
    }
  }
}

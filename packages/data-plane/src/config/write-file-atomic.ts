import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CacheIoError } from '../errors.js';

/** The steps of a crash-safe write, in order; a crash after any of them leaves the old or the new file complete. */
export const WriteStep = {
  /** Every byte is written to the temp file (not yet durable). */
  TEMP_WRITTEN: 'temp-written',
  /** The temp file is fsynced and closed. */
  TEMP_SYNCED: 'temp-synced',
  /** The current file was renamed to the previous-generation name (only with `previousPath`). */
  PREVIOUS_ROTATED: 'previous-rotated',
  /** The temp file was renamed over the target. */
  RENAMED: 'renamed',
  /** The directory is fsynced: the renames are durable. */
  DIR_SYNCED: 'dir-synced',
} as const;
export type WriteStep = (typeof WriteStep)[keyof typeof WriteStep];

/** Options of `writeFileAtomic`. */
export interface WriteFileAtomicOptions {
  /** Where the file being replaced goes first (the previous generation, kept as a fallback). Default: not kept. */
  readonly previousPath?: string;
  /** File mode of the new file (default 0o600: a config may carry secrets). */
  readonly mode?: number;
  /**
   * Called after each step; for crash tests. A hook that throws stops the write right there, as a
   * crash would (nothing is cleaned up).
   */
  readonly onStep?: (step: WriteStep) => void | Promise<void>;
}

/** The prefix of temp files next to `path`: `<name>.tmp-`; leftovers from a crash start with it. */
export function tempPrefix(path: string): string {
  return basename(path) + '.tmp-';
}

let sequence = 0;

class HookAbort extends Error {}

/**
 * Replaces `path` with `data` (bytes, or written by a function through the temp file's handle) so
 * that a crash at any point leaves either the old or the new complete file: write a temp file in
 * the same directory, fsync it, (rename the old file to `previousPath`), rename the temp over
 * `path`, fsync the directory. Resolves to what the function returned (e.g. the size it wrote).
 * Throws `CacheIoError`; on an I/O failure the temp file is removed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, options?: WriteFileAtomicOptions): Promise<void>;
export async function writeFileAtomic<T>(path: string, data: (file: FileHandle) => Promise<T>, options?: WriteFileAtomicOptions): Promise<T>;
export async function writeFileAtomic<T>(path: string, data: Uint8Array | ((file: FileHandle) => Promise<T>), options: WriteFileAtomicOptions = {}): Promise<T | void> {
  const dir = dirname(path);
  const temp = join(dir, `${tempPrefix(path)}${process.pid}-${++sequence}`);
  const step = async (s: WriteStep) => {
    if (!options.onStep) return;
    try {
      await options.onStep(s);
    } catch (cause) {
      throw new HookAbort(`write stopped after ${s}`, { cause });
    }
  };
  try {
    const file = await open(temp, 'wx', options.mode ?? 0o600);
    let written: T | undefined;
    try {
      if (typeof data === 'function') written = await data(file);
      else await writeFully(file, data);
      await step(WriteStep.TEMP_WRITTEN);
      await file.sync();
    } finally {
      await file.close();
    }
    await step(WriteStep.TEMP_SYNCED);
    if (options.previousPath !== undefined) {
      try {
        await rename(path, options.previousPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await step(WriteStep.PREVIOUS_ROTATED);
    }
    await rename(temp, path);
    await step(WriteStep.RENAMED);
    await syncDirectory(dir);
    await step(WriteStep.DIR_SYNCED);
    return written;
  } catch (err) {
    if (err instanceof HookAbort) throw err.cause;
    await unlink(temp).catch(() => undefined);
    throw new CacheIoError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Where {@link writeFully} writes: the subset of `fs.promises.FileHandle` it uses. */
export interface FileSink {
  write(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>;
}

/**
 * Writes every byte of `bytes` to `file`, looping over short writes: at `position` and on, or, when
 * it is null, at the file's current position (its end, for a file opened to append).
 */
export async function writeFully(file: FileSink, bytes: Uint8Array, position: number | null = null): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await file.write(bytes, done, bytes.byteLength - done, position === null ? null : position + done);
    done += bytesWritten;
  }
}

/** fsyncs a directory so that renames in it are durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

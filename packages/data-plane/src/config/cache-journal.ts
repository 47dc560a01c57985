import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { kindOfEntityType, pb, type ResourceBatchMessage } from '@sluice/protocol';
import { CacheCorruptError, CacheIoError, type DataPlaneError } from '../errors.js';
import { resourceKey, type RuntimeConfig } from './runtime-config.js';
import { writeFully } from './write-file-atomic.js';

/** The first 8 bytes of every journal file. */
export const JOURNAL_MAGIC = Buffer.from('SLUICEDJ', 'ascii');

/** The journal format written by this build; a journal of another format is ignored (its base is served). */
export const JOURNAL_FORMAT_VERSION = 1;

/**
 * Most records a journal holds before the next write rewrites the base instead (default 10,000):
 * bounds a cold start's replay. At 100,000 routes a one-route record is ~300 bytes, so a base of
 * 23 MB is rewritten once per 10,000 deltas instead of once per 200 ms of changes.
 */
export const CACHE_JOURNAL_MAX_RECORDS = 10_000;

/**
 * Most bytes a journal grows to before the next write rewrites the base instead (default 16 MiB),
 * and never more than the base's own body: a small config is rewritten whole, which costs less
 * than replaying a journal larger than it.
 */
export const CACHE_JOURNAL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Most bytes one write appends (default 1 MiB): the records of the deltas applied since the last
 * write. Larger (a bulk import as one delta), the write rewrites the base, a chunk at a time,
 * instead of encoding one large record on the event loop.
 */
export const CACHE_JOURNAL_MAX_APPEND_BYTES = 1024 * 1024;

/** The bounds of a journal (`ConfigCacheOptions.journalLimits`): past any of them a write rewrites the base instead of appending. */
export interface JournalLimits {
  /** Most records in the journal (default `CACHE_JOURNAL_MAX_RECORDS`). */
  readonly maxRecords: number;
  /** Most bytes in the journal (default `CACHE_JOURNAL_MAX_BYTES`), and never more than the base file. */
  readonly maxBytes: number;
  /** Most bytes one write appends (default `CACHE_JOURNAL_MAX_APPEND_BYTES`). */
  readonly maxAppendBytes: number;
}

/** The default {@link JournalLimits}. */
export const DEFAULT_JOURNAL_LIMITS: JournalLimits = Object.freeze({
  maxRecords: CACHE_JOURNAL_MAX_RECORDS,
  maxBytes: CACHE_JOURNAL_MAX_BYTES,
  maxAppendBytes: CACHE_JOURNAL_MAX_APPEND_BYTES,
});

/** The steps of an append to the journal, in order (for crash tests, like `WriteStep`). */
export const JournalStep = {
  /** The records are written to the journal (not yet durable). */
  APPENDED: 'journal-appended',
  /** The journal is fdatasynced: the records are durable. */
  SYNCED: 'journal-synced',
} as const;
export type JournalStep = (typeof JournalStep)[keyof typeof JournalStep];

/** Size of the journal header in bytes: magic (8) | format u32 | base header digest (32) | sha256 of those (32). */
export const JOURNAL_HEADER_BYTES = 8 + 4 + 32 + 32;

/** Per record, before its body: body length u32 | sha256 of the body (32). */
const RECORD_PREFIX_BYTES = 4 + 32;
/** The body's fixed part: from version u64 | to version u64 | config hash (32). */
const RECORD_FIXED_BYTES = 8 + 8 + 32;

/** One applied delta as the journal holds it: the versions it goes between, the resulting hash, and its changes. */
export interface JournalRecord {
  readonly fromVersion: number;
  readonly toVersion: number;
  /** The config hash after the delta (32 bytes). */
  readonly hash: Uint8Array;
  /** The resources the delta put in, as the resulting config holds them (exact payload, informational version). */
  readonly upserts: readonly { readonly type: number; readonly id: string; readonly version: number; readonly payload: Uint8Array }[];
  readonly removals: readonly { readonly type: number; readonly id: string }[];
}

/**
 * The journal record of a delta that turned the config at `fromVersion` into `config`: each
 * upserted resource as `config` holds it, each removal as the delta names it. Null when an upsert
 * is not in `config` (not the delta that built it).
 */
export function journalRecordOf(config: RuntimeConfig, delta: { readonly fromVersion: number; readonly batch: ResourceBatchMessage }): JournalRecord | null {
  const upserts: JournalRecord['upserts'][number][] = [];
  for (const u of delta.batch.upserts ?? []) {
    const kind = kindOfEntityType(u.type ?? 0);
    const r = kind === undefined ? undefined : config.resources.get(resourceKey(kind, u.id ?? ''));
    if (!r) return null;
    upserts.push({ type: r.type, id: r.id, version: r.version, payload: r.payload });
  }
  const removals = (delta.batch.removals ?? []).map((k) => ({ type: k.type ?? 0, id: k.id ?? '' }));
  return { fromVersion: delta.fromVersion, toVersion: config.version, hash: config.hashBytes, upserts, removals };
}

/** At most how many bytes a record takes in the journal (its framing counted at the longest varints): what the append bounds are checked with. */
export function journalRecordBytes(record: JournalRecord): number {
  let n = RECORD_PREFIX_BYTES + RECORD_FIXED_BYTES;
  for (const u of record.upserts) n += 40 + u.id.length * 3 + u.payload.byteLength;
  for (const r of record.removals) n += 20 + r.id.length * 3;
  return n;
}

/**
 * The header of a journal that extends the cache file whose header digest is `baseDigest`
 * (`CacheFileContents.headerDigest`): a journal is replayed only onto that exact file.
 *
 * ```
 * journal = header | record*
 * header  = magic "SLUICEDJ" (8) | format u32 | base header digest (32) | sha256 of the above (32)
 * record  = body length u32 | sha256 of body (32) | body
 * body    = from version u64 | to version u64 | config hash after it (32) | sluice.v1.ResourceBatch
 * ```
 *
 * All integers big-endian. Each record is checked on its own, so a torn or corrupt record ends the
 * journal there: the records before it still give a complete, valid config (all-or-nothing per
 * record), and the control plane catches the data plane up from it.
 */
export function encodeJournalHeader(baseDigest: Uint8Array): Buffer {
  const out = Buffer.alloc(JOURNAL_HEADER_BYTES);
  let o = JOURNAL_MAGIC.copy(out, 0);
  o = out.writeUInt32BE(JOURNAL_FORMAT_VERSION, o);
  o += Buffer.from(baseDigest).copy(out, o);
  createHash('sha256').update(out.subarray(0, o)).digest().copy(out, o);
  return out;
}

/** The bytes of one record (see {@link encodeJournalHeader}). */
export function encodeJournalRecord(record: JournalRecord): Buffer {
  const batch = pb.ResourceBatch.encode({ upserts: record.upserts.map((u) => ({ ...u })), removals: record.removals.map((r) => ({ ...r })) }).finish();
  const out = Buffer.allocUnsafe(RECORD_PREFIX_BYTES + RECORD_FIXED_BYTES + batch.byteLength);
  out.writeUInt32BE(RECORD_FIXED_BYTES + batch.byteLength, 0);
  let o = RECORD_PREFIX_BYTES;
  o = out.writeBigUInt64BE(BigInt(record.fromVersion), o);
  o = out.writeBigUInt64BE(BigInt(record.toVersion), o);
  o += Buffer.from(record.hash).copy(out, o);
  out.set(batch, o);
  createHash('sha256').update(out.subarray(RECORD_PREFIX_BYTES)).digest().copy(out, 4);
  return out;
}

/** What a journal file holds: the base it extends, its good records, and why its tail (if any) was dropped. */
export interface JournalContents {
  readonly baseDigest: Uint8Array;
  /** The records that chain from `baseVersion`, in order. */
  readonly records: readonly JournalRecord[];
  /** Bytes of the header and of those records: the file up to where its tail was dropped. */
  readonly validBytes: number;
  /** Why the rest of the file was dropped (torn, checksum, undecodable, out of sequence), or null when it was whole. */
  readonly droppedTail: string | null;
}

/**
 * Reads a journal: its header (throws `CacheCorruptError` naming `path` when it is not a whole,
 * checksummed journal header of this format), then its records while each is whole, matches its
 * checksum, decodes, and goes on from the version the one before reached (the first from
 * `baseVersion`). The first that does not ends the journal.
 */
export function readJournal(bytes: Uint8Array, path: string, baseVersion: number): JournalContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < JOURNAL_HEADER_BYTES) throw new CacheCorruptError(path, `truncated journal: ${buf.byteLength} bytes is shorter than its header`);
  if (!buf.subarray(0, 8).equals(JOURNAL_MAGIC)) throw new CacheCorruptError(path, 'not a sluice-dp journal (bad magic)');
  const format = buf.readUInt32BE(8);
  if (format !== JOURNAL_FORMAT_VERSION) throw new CacheCorruptError(path, `journal format ${format}, this build reads ${JOURNAL_FORMAT_VERSION}`);
  const digest = createHash('sha256').update(buf.subarray(0, JOURNAL_HEADER_BYTES - 32)).digest();
  if (!digest.equals(buf.subarray(JOURNAL_HEADER_BYTES - 32, JOURNAL_HEADER_BYTES))) throw new CacheCorruptError(path, 'journal header checksum mismatch');
  const baseDigest = Uint8Array.prototype.slice.call(buf, 12, 44);
  const records: JournalRecord[] = [];
  let o = JOURNAL_HEADER_BYTES;
  let version = baseVersion;
  let droppedTail: string | null = null;
  while (o < buf.byteLength) {
    const at = `record ${records.length + 1} at byte ${o}`;
    if (buf.byteLength - o < RECORD_PREFIX_BYTES) {
      droppedTail = `${at}: torn (${buf.byteLength - o} bytes)`;
      break;
    }
    const length = buf.readUInt32BE(o);
    if (length < RECORD_FIXED_BYTES || length > buf.byteLength - o - RECORD_PREFIX_BYTES) {
      droppedTail = `${at}: torn or bad length ${length}`;
      break;
    }
    const body = buf.subarray(o + RECORD_PREFIX_BYTES, o + RECORD_PREFIX_BYTES + length);
    if (!createHash('sha256').update(body).digest().equals(buf.subarray(o + 4, o + RECORD_PREFIX_BYTES))) {
      droppedTail = `${at}: checksum mismatch`;
      break;
    }
    const fromVersion = Number(body.readBigUInt64BE(0));
    const toVersion = Number(body.readBigUInt64BE(8));
    if (fromVersion !== version || toVersion <= fromVersion) {
      droppedTail = `${at}: goes from ${fromVersion} to ${toVersion}, the journal is at ${version}`;
      break;
    }
    let batch: InstanceType<typeof pb.ResourceBatch>;
    try {
      batch = pb.ResourceBatch.decode(body.subarray(RECORD_FIXED_BYTES));
    } catch (cause) {
      droppedTail = `${at}: undecodable (${(cause as Error).message})`;
      break;
    }
    records.push({
      fromVersion,
      toVersion,
      hash: Uint8Array.prototype.slice.call(body, 16, 48),
      upserts: batch.upserts.map((u) => ({ type: u.type ?? 0, id: u.id ?? '', version: Number(u.version ?? 0), payload: u.payload ?? new Uint8Array(0) })),
      removals: batch.removals.map((r) => ({ type: r.type ?? 0, id: r.id ?? '' })),
    });
    version = toVersion;
    o += RECORD_PREFIX_BYTES + length;
  }
  return { baseDigest, records, validBytes: o, droppedTail };
}

/**
 * The snapshot batch of a base batch with `records` applied in order (upserts replace or add,
 * removals remove): the config the journal describes, to be validated like any snapshot.
 */
export function replayJournal(base: ResourceBatchMessage, records: readonly JournalRecord[]): ResourceBatchMessage {
  if (records.length === 0) return base;
  const byKey = new Map<string, NonNullable<ResourceBatchMessage['upserts']>[number]>();
  const keyOf = (type: number, id: string) => `${type}/${id}`;
  for (const u of base.upserts ?? []) byKey.set(keyOf(u.type ?? 0, u.id ?? ''), u);
  for (const record of records) {
    for (const r of record.removals) byKey.delete(keyOf(r.type, r.id));
    for (const u of record.upserts) byKey.set(keyOf(u.type, u.id), u);
  }
  return { upserts: [...byKey.values()], removals: [] };
}

/**
 * The bytes of the journal at `path`, or null when there is none, or when it cannot be read or is
 * larger than `maxBytes` (default `CACHE_JOURNAL_MAX_BYTES`: no journal written with that bound
 * is): reported in `errors`.
 */
export async function readJournalFile(path: string, errors: DataPlaneError[], maxBytes: number = CACHE_JOURNAL_MAX_BYTES): Promise<Buffer | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(new CacheIoError(`cannot read ${path}: ${(cause as Error).message}`, { cause }));
    return null;
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      errors.push(new CacheCorruptError(path, `journal of ${size} bytes exceeds ${maxBytes}; ignored`));
      return null;
    }
    return await handle.readFile();
  } catch (cause) {
    errors.push(new CacheIoError(`cannot read ${path}: ${(cause as Error).message}`, { cause }));
    return null;
  } finally {
    await handle.close();
  }
}

/**
 * Appends `data` (records) to the journal at `path` and fdatasyncs it, calling `onStep` after each
 * step (a hook that throws stops the append there, as a crash would): a crash leaves the file as it was, or
 * with some prefix of `data` after it (a torn record, dropped when read). Throws `CacheIoError`.
 */
export async function appendJournal(path: string, data: Uint8Array, onStep?: (step: JournalStep) => void | Promise<void>): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'a');
  } catch (cause) {
    throw new CacheIoError(`cannot append to ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    await writeFully(handle, data);
    await onStep?.(JournalStep.APPENDED);
    await handle.datasync();
    await onStep?.(JournalStep.SYNCED);
  } catch (cause) {
    throw cause instanceof CacheIoError ? cause : new CacheIoError(`cannot append to ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    await handle.close();
  }
}

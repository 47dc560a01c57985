/**
 * Conversions shared by the kinds' protobuf codecs: Kong's nullable lists and optional scalars,
 * and what keeps a decoded entity small (flat strings, Kong's words stored once, an
 * {@link EntityInterner}'s shared values).
 */
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';
import { protobuf } from '../../protobuf-runtime.js';
import type { EntityInterner } from '../entity-interner.js';

/** A nullable list as a wrapper message: absent = null, present and empty = []. */
export const list = (values: readonly string[] | null) => (values === null ? null : { values: [...values] });

/**
 * The inverse of {@link list}: a list of its exact length (protobufjs grows a repeated field by
 * `push`, leaving spare capacity), each element through `map` when given, or with `shared` the
 * interner's frozen list.
 */
export function unlist(value: { values?: string[] | null } | null | undefined, shared?: EntityInterner, map?: (value: string) => string): string[] | null {
  if (!value) return null;
  const values = value.values ?? [];
  if (shared) return shared.list(values, map);
  return map ? values.map(map) : [...values];
}

/** Like {@link unlist}, for a list of Kong's words (protocols, methods): each element stored once ({@link word}). */
export function unlistWords(value: { values?: string[] | null } | null | undefined, shared?: EntityInterner): string[] | null {
  return unlist(value, shared, word);
}

/** A proto3 `optional` scalar: absent (undefined) = null. */
export const opt = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);

/** A foreign key message as Kong's `{id}` (absent = null); with `shared`, the interner's frozen one. */
export function foreign(value: { id?: string | null } | null | undefined, shared?: EntityInterner): { id: string } | null {
  if (!value) return null;
  return shared ? shared.reference(value.id ?? '') : { id: value.id ?? '' };
}

/**
 * The short words of Kong's schemas that nearly every entity repeats: protocols, HTTP methods,
 * route path handling. A decoded string equal to one is replaced by the one constant string, so
 * 100,000 routes hold one `"https"`, not 100,000. Any other string is kept as it is.
 */
const WORDS: ReadonlyMap<string, string> = new Map(
  [
    ...['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp', 'ws', 'wss'],
    ...['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'],
    ...['v0', 'v1'],
  ].map((w) => [w, w]),
);

/** `value`, or the one constant string of Kong's word equal to it (see {@link WORDS}). */
export function word(value: string): string {
  return WORDS.get(value) ?? value;
}

/** What the reader needs of Node's `Buffer`: its native UTF-8 slice (as protobufjs's own `BufferReader.string` uses it). */
interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

/** U+FFFD, what a non-fatal UTF-8 decode puts in place of each invalid sequence. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * protobufjs's `BufferReader` whose checked strings (`stringVerify`, every proto3 `string`) come
 * back flat. protobufjs builds a string under 64 bytes by `+=` of 8-character chunks: a 36-character
 * id becomes a tree of 8 concatenations (about 400 bytes of heap instead of 56) that V8 keeps as it
 * is. Here a string is one native UTF-8 slice (one flat string). That slice replaces invalid UTF-8
 * with U+FFFD rather than failing, so a slice holding U+FFFD (invalid bytes, or a U+FFFD really
 * encoded) is read again by protobufjs's own strict reader: invalid UTF-8 fails exactly as it did.
 */
class FlatStringReader extends protobuf.BufferReader {
  override stringVerify(): string {
    const at = this.pos;
    const length = this.size();
    const start = this.pos;
    const end = start + length;
    if (end <= this.len) {
      const value = (this.buf as unknown as Utf8Slicing).utf8Slice(start, end);
      if (!value.includes(REPLACEMENT_CHARACTER)) {
        this.pos = end;
        return value;
      }
    }
    this.pos = at;
    return super.stringVerify();
  }
}

/** The reader an entity decoder reads `bytes` with (a view, no copy): see {@link FlatStringReader}. */
export function entityReader(bytes: Uint8Array): protobuf.Reader {
  return new FlatStringReader(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** Runs a protobuf decode, turning its failure into ProtocolError `ENTITY_DECODE` naming the kind. */
export function decodeOrThrow<M>(singular: string, decode: () => M): M {
  try {
    return decode();
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.ENTITY_DECODE, `undecodable ${singular}: ${(cause as Error).message}`, { cause });
  }
}

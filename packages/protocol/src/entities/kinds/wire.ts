/** Conversions shared by the kinds' protobuf codecs: Kong's nullable lists and optional scalars. */
import { ProtocolError, ProtocolErrorCode } from '../../errors.js';

/** A nullable list as a wrapper message: absent = null, present and empty = []. */
export const list = (values: readonly string[] | null) => (values === null ? null : { values: [...values] });

/** The inverse of {@link list}. */
export const unlist = (value: { values?: string[] | null } | null | undefined): string[] | null => (value ? [...(value.values ?? [])] : null);

/** A proto3 `optional` scalar: absent (undefined) = null. */
export const opt = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);

/** A foreign key message as Kong's `{id}` (absent = null). */
export const foreign = (value: { id?: string | null } | null | undefined): { id: string } | null => (value ? { id: value.id ?? '' } : null);

/** Runs a protobuf decode, turning its failure into ProtocolError `ENTITY_DECODE` naming the kind. */
export function decodeOrThrow<M>(singular: string, decode: () => M): M {
  try {
    return decode();
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.ENTITY_DECODE, `undecodable ${singular}: ${(cause as Error).message}`, { cause });
  }
}

import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { CloseCode } from './close-codes.js';
import { MAX_FRAME_BYTES } from './limits.js';
import { pb, type Envelope, type EnvelopeProperties } from './proto.js';

/** Frame kinds: the names of the Envelope's `msg` oneof. */
export type FrameKind = NonNullable<Envelope['msg']>;

/** Encodes one Envelope into the bytes of one binary WebSocket message. */
export function encodeFrame(envelope: EnvelopeProperties): Uint8Array {
  return pb.Envelope.encode(envelope).finish();
}

/**
 * Decodes one binary WebSocket message into an Envelope carrying exactly one frame.
 * Throws a ProtocolError (with the close code to use) for oversize, undecodable or empty frames.
 */
export function decodeFrame(data: Uint8Array, maxFrameBytes: number = MAX_FRAME_BYTES): Envelope & { msg: FrameKind } {
  if (data.byteLength > maxFrameBytes) {
    throw new ProtocolError(ProtocolErrorCode.FRAME_TOO_LARGE, `frame of ${data.byteLength} bytes exceeds the limit of ${maxFrameBytes} bytes`, { closeCode: CloseCode.TOO_BIG });
  }
  let envelope: Envelope;
  try {
    envelope = pb.Envelope.decode(data);
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.DECODE, `undecodable frame: ${(cause as Error).message}`, { cause });
  }
  if (!envelope.msg) {
    throw new ProtocolError(ProtocolErrorCode.EMPTY_ENVELOPE, 'frame carries no message');
  }
  return envelope as Envelope & { msg: FrameKind };
}

/** Normalises a ws `RawData` (Buffer, ArrayBuffer or Buffer[]) into one Uint8Array without copying when possible. */
export function frameBytes(data: ArrayBuffer | Uint8Array | readonly Uint8Array[]): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return Buffer.concat(data as Uint8Array[]);
}

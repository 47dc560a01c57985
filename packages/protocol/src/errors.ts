import { CloseCode } from './close-codes.js';

/** Stable error codes raised by the protocol package. Callers branch on these, never on messages. */
export const ProtocolErrorCode = {
  FRAME_TOO_LARGE: 'SLUICE_PROTO_FRAME_TOO_LARGE',
  DECODE: 'SLUICE_PROTO_DECODE',
  EMPTY_ENVELOPE: 'SLUICE_PROTO_EMPTY_ENVELOPE',
  BLOB_CHECKSUM: 'SLUICE_PROTO_BLOB_CHECKSUM',
  BLOB_TOO_LARGE: 'SLUICE_PROTO_BLOB_TOO_LARGE',
  BLOB_CODEC: 'SLUICE_PROTO_BLOB_CODEC',
  SNAPSHOT_SEQUENCE: 'SLUICE_PROTO_SNAPSHOT_SEQUENCE',
  ENTITY_DECODE: 'SLUICE_PROTO_ENTITY_DECODE',
  UNEXPECTED_FRAME: 'SLUICE_PROTO_UNEXPECTED_FRAME',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** An error in a frame or a config body received from a peer. Carries the WebSocket close code to use. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly closeCode: CloseCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown; closeCode?: CloseCode }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.closeCode = options?.closeCode ?? CloseCode.PROTOCOL_ERROR;
  }
}

import { CloseCode } from '@sluice/protocol';
import { SyncConnectionError, SyncTlsError, type DataPlaneError } from '../errors.js';
import type { ClusterTls } from './cluster-tls.js';

/**
 * What the transport knew when a connection to the control plane failed: enough to tell a TLS
 * refusal from a plain network failure, and which side refused what.
 */
export interface ConnectionFailureContext {
  /** Whether the URL is `wss://`. */
  readonly isSecure: boolean;
  /** Whether the WebSocket upgrade had completed. */
  readonly isOpen: boolean;
  /**
   * Whether our side of the TLS handshake had completed: under TLS 1.3 a control plane that
   * refuses our certificate does so after that, by hanging up.
   */
  readonly isTlsEstablished: boolean;
  /** The cluster mTLS mode, or null without cluster TLS. */
  readonly mode: ClusterTls['mode'] | null;
}

/** OpenSSL's certificate verification results, as Node reports them in `err.code`. */
const CERT_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * The error to record for a failed connection: a {@link SyncTlsError} when TLS itself failed (with
 * which side refused what), else a {@link SyncConnectionError}, with a hint when the control plane
 * hung up before the upgrade (what a TLS control plane does to a plain ws:// client, and to a
 * client certificate it does not admit under TLS 1.3).
 */
export function connectionError(err: Error, { isSecure, isOpen, isTlsEstablished, mode }: ConnectionFailureContext): DataPlaneError {
  if (err instanceof SyncTlsError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // OpenSSL errors carry a one-line `reason`; their message is a long internal trace.
  const reason = (err as { reason?: unknown }).reason;
  const detail = typeof reason === 'string' && reason ? reason : err.message;
  if (code.startsWith('ERR_SSL_') && /alert/i.test(code)) {
    return new SyncTlsError(`the control plane refused this data plane's certificate (${code}: ${detail})`, { cause: err });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new SyncTlsError(`the control plane does not answer in TLS on this port (${code}); is its cluster stream plain ws://?`, { cause: err });
  }
  if (mode === 'shared' && CERT_VERIFY_CODES.has(code)) {
    return new SyncTlsError(`the control plane's certificate is not the shared cluster certificate (${code}: ${detail})`, { cause: err });
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERT_VERIFY_CODES.has(code)) {
    return new SyncTlsError(`the control plane's certificate was refused or TLS failed (${code}: ${detail})`, { cause: err });
  }
  const isHangUp = code === 'ECONNRESET' || /socket hang up|disconnected before secure TLS/i.test(err.message);
  if (!isOpen && isHangUp && isTlsEstablished) {
    return new SyncTlsError(
      `the control plane hung up right after the TLS handshake, before answering the upgrade: it did not admit this data plane's certificate (${err.message})`,
      { cause: err },
    );
  }
  if (!isOpen && isHangUp) {
    const hint = isSecure
      ? 'the control plane hung up during the TLS handshake or upgrade: it may not admit this data plane\'s certificate'
      : 'the control plane hung up before the upgrade: if its cluster stream uses TLS, connect with wss:// and --cluster-cert/--cluster-cert-key';
    return new SyncConnectionError(`control plane connection error: ${err.message} (${hint})`, undefined, { cause: err });
  }
  return new SyncConnectionError(`control plane connection error: ${err.message}`, undefined, { cause: err });
}

/**
 * The error for an upgrade the control plane answered with an HTTP status instead of 101: over
 * `wss://`, 401 and 403 are its refusal of our certificate (the checks it repeats at the upgrade).
 */
export function upgradeRefusalError(status: number, isSecure: boolean): SyncConnectionError | SyncTlsError {
  return isSecure && (status === 401 || status === 403)
    ? new SyncTlsError(`the control plane refused this data plane's certificate (HTTP ${status} at the upgrade)`)
    : new SyncConnectionError(`control plane answered the upgrade with HTTP ${status}`);
}

/** WebSocket close code 1005: the close frame carried no status (RFC 6455 §7.4.1; never sent on the wire). */
const NO_STATUS_RECEIVED = 1005;

/**
 * The error for a stream the control plane closed, or null for a close that is no failure
 * (1000 normal, 1001 going away, 1005 no status).
 */
export function streamClosedError(code: number, reason: string): SyncConnectionError | null {
  if (code === CloseCode.NORMAL || code === CloseCode.GOING_AWAY || code === NO_STATUS_RECEIVED) return null;
  return new SyncConnectionError(`control plane closed the stream: ${code}${reason ? ` ${reason}` : ''}`, code);
}

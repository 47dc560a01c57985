import { describe, expect, it } from 'vitest';
import { DataPlaneErrorCode, SyncConnectionError, SyncTlsError } from '../errors.js';
import { connectionError, streamClosedError, upgradeRefusalError, type ConnectionFailureContext } from './connection-error.js';

/** An error as Node raises it: a message, an `err.code`, and for OpenSSL a one-line `reason`. */
function nodeError(message: string, code?: string, reason?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code }, reason === undefined ? {} : { reason });
}

const plain: ConnectionFailureContext = { isSecure: false, isOpen: false, isTlsEstablished: false, mode: null };
const shared: ConnectionFailureContext = { isSecure: true, isOpen: false, isTlsEstablished: false, mode: 'shared' };
const pki: ConnectionFailureContext = { ...shared, mode: 'pki' };

describe('connectionError', () => {
  const table: [name: string, err: Error, context: ConnectionFailureContext, code: string, message: RegExp][] = [
    ['an alert from the control plane: it refused our certificate', nodeError('ssl trace', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required'), shared, DataPlaneErrorCode.SYNC_TLS, /refused this data plane's certificate \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required\)/],
    ['wss:// against a plain port', nodeError('ssl trace', 'ERR_SSL_WRONG_VERSION_NUMBER'), shared, DataPlaneErrorCode.SYNC_TLS, /does not answer in TLS on this port .*plain ws:\/\//],
    ['shared mode: a certificate that is not ours', nodeError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), shared, DataPlaneErrorCode.SYNC_TLS, /not the shared cluster certificate \(DEPTH_ZERO_SELF_SIGNED_CERT/],
    ['pki mode: a certificate that does not verify', nodeError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), pki, DataPlaneErrorCode.SYNC_TLS, /certificate was refused or TLS failed \(DEPTH_ZERO_SELF_SIGNED_CERT/],
    ['pki mode: another server name', nodeError("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), pki, DataPlaneErrorCode.SYNC_TLS, /refused or TLS failed \(ERR_TLS_CERT_ALTNAME_INVALID/],
    ['TLS 1.3: a hang-up right after our side of the handshake', nodeError('socket hang up', 'ECONNRESET'), { ...pki, isTlsEstablished: true }, DataPlaneErrorCode.SYNC_TLS, /hung up right after the TLS handshake/],
    ['wss://: a hang-up during the handshake', nodeError('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET'), pki, DataPlaneErrorCode.SYNC_CONNECTION, /may not admit this data plane's certificate/],
    ['ws://: a hang-up before the upgrade (a TLS control plane)', nodeError('socket hang up', 'ECONNRESET'), plain, DataPlaneErrorCode.SYNC_CONNECTION, /connect with wss:\/\/ and --cluster-cert/],
    ['a reset once the stream is open: no hint', nodeError('read ECONNRESET', 'ECONNRESET'), { ...plain, isOpen: true }, DataPlaneErrorCode.SYNC_CONNECTION, /^control plane connection error: read ECONNRESET$/],
    ['nothing listening', nodeError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), plain, DataPlaneErrorCode.SYNC_CONNECTION, /^control plane connection error: connect ECONNREFUSED 127\.0\.0\.1:1$/],
  ];
  for (const [name, err, context, code, message] of table) {
    it(name, () => {
      const error = connectionError(err, context);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(error.cause).toBe(err);
    });
  }

  it('passes a SyncTlsError (raised by the certificate check) through unchanged', () => {
    const err = new SyncTlsError('pinned fingerprint differs');
    expect(connectionError(err, shared)).toBe(err);
  });
});

describe('upgradeRefusalError', () => {
  it('reads 401 and 403 over wss:// as a refused certificate, anything else as a connection error', () => {
    expect(upgradeRefusalError(403, true)).toBeInstanceOf(SyncTlsError);
    expect(upgradeRefusalError(401, true).message).toBe("the control plane refused this data plane's certificate (HTTP 401 at the upgrade)");
    expect(upgradeRefusalError(403, false)).toBeInstanceOf(SyncConnectionError);
    expect(upgradeRefusalError(404, true).message).toBe('control plane answered the upgrade with HTTP 404');
  });
});

describe('streamClosedError', () => {
  it('is null for 1000, 1001 and 1005, and carries the close code otherwise', () => {
    for (const code of [1000, 1001, 1005]) expect(streamClosedError(code, '')).toBeNull();
    const error = streamClosedError(4006, 'replaced');
    expect(error).toMatchObject({ code: DataPlaneErrorCode.SYNC_CONNECTION, closeCode: 4006, message: 'control plane closed the stream: 4006 replaced' });
    expect(streamClosedError(1011, '')?.message).toBe('control plane closed the stream: 1011');
  });
});

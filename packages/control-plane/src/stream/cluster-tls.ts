import { checkClusterIdentity, ClusterMtlsMode, readClusterIdentityFiles, type ClusterIdentity, type ClusterIdentityFiles, type ClusterIdentityOptions } from '@sluice/protocol';
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ConfigurationError } from '../errors.js';

export { ClusterMtlsMode };
/** The PEM material of {@link ClusterTls}: the control plane's certificate and key, and the CA in pki mode. */
export type ClusterTlsOptions = ClusterIdentityOptions;
/** The files of {@link ClusterTls.fromFiles}. */
export type ClusterTlsFiles = ClusterIdentityFiles;

/** Why a connection was refused: the HTTP status to answer at the upgrade and a reason for the log. */
export interface PeerRefusal {
  status: 401 | 403;
  reason: string;
}

/**
 * The control plane's TLS identity on the cluster stream and the rule that admits data planes.
 * Built once at start (the certificate, key and CA are parsed and checked against each other, so a
 * wrong file fails the start, not the first handshake); `serverOptions()` makes the `node:https`
 * server require a client certificate and verify it during the handshake, and `checkPeer()` is
 * checked again at the upgrade (and is the only check of the shared fingerprint).
 */
export class ClusterTls {
  private readonly identity: ClusterIdentity;

  constructor(options: ClusterTlsOptions, now: number = Date.now()) {
    try {
      this.identity = checkClusterIdentity(options, now);
    } catch (err) {
      throw new ConfigurationError((err as Error).message, { cause: err });
    }
  }

  get mode(): ClusterMtlsMode {
    return this.identity.mode;
  }

  /** SHA-256 fingerprint of the control plane's certificate, `AB:CD:…` as Node prints it. */
  get fingerprint256(): string {
    return this.identity.fingerprint256;
  }

  /** When the control plane's certificate expires. */
  get validTo(): Date {
    return this.identity.validTo;
  }

  /** Reads the files and builds the identity; every failure is a {@link ConfigurationError} naming the flag. */
  static fromFiles(files: ClusterTlsFiles): ClusterTls {
    try {
      return new ClusterTls(readClusterIdentityFiles(files));
    } catch (err) {
      if (err instanceof ConfigurationError) throw err;
      throw new ConfigurationError((err as Error).message, { cause: err });
    }
  }

  /**
   * Options for `https.createServer`: a client certificate is required and verified during the
   * handshake (no certificate: the handshake fails with `certificate required`; one that does not
   * verify: the socket is destroyed right after it, before any HTTP is read). In shared mode the
   * trust anchor is our own leaf certificate, accepted even when it is not self-signed
   * (`allowPartialTrustChain`); the exact fingerprint is then compared by {@link checkPeer}.
   */
  serverOptions(): ServerOptions {
    const { mode, cert, key, ca, leafPem } = this.identity;
    const isShared = mode === ClusterMtlsMode.SHARED;
    return {
      cert,
      key,
      ca: isShared ? [leafPem] : ca,
      allowPartialTrustChain: isShared,
      requestCert: true,
      rejectUnauthorized: true,
    };
  }

  /** Null when the peer of this socket may use the stream, else why not. */
  checkPeer(socket: TLSSocket): PeerRefusal | null {
    if (typeof socket.getPeerX509Certificate !== 'function') return { status: 401, reason: 'not a TLS connection' };
    const peer = socket.getPeerX509Certificate();
    if (!peer) return { status: 401, reason: 'no client certificate' };
    if (!socket.authorized) return { status: 403, reason: `client certificate refused: ${String(socket.authorizationError ?? 'not authorized')}` };
    if (this.mode === ClusterMtlsMode.SHARED && peer.fingerprint256 !== this.fingerprint256) {
      return { status: 403, reason: `client certificate ${peer.fingerprint256} is not the shared cluster certificate` };
    }
    return null;
  }
}

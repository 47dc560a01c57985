import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ConfigurationError } from '../errors.js';

/**
 * How the cluster stream authenticates data planes (Kong's `cluster_mtls`):
 * - `shared`: every node holds the same certificate and key; a data plane is accepted when the
 *   certificate it presents is the control plane's own (same SHA-256 fingerprint). No CA involved.
 * - `pki`: each node has its own certificate; a data plane is accepted when its certificate chains
 *   to the cluster CA (`--cluster-ca-cert`).
 */
export const ClusterMtlsMode = {
  SHARED: 'shared',
  PKI: 'pki',
} as const;
export type ClusterMtlsMode = (typeof ClusterMtlsMode)[keyof typeof ClusterMtlsMode];

/** The PEM material of {@link ClusterTls}. */
export interface ClusterTlsOptions {
  /** Default `pki` when `ca` is given, else `shared`. */
  mode?: ClusterMtlsMode;
  /** The control plane's certificate (PEM; intermediates may follow the leaf). */
  cert: string | Buffer;
  /** Its private key (PEM, unencrypted). */
  key: string | Buffer;
  /** The CA that data-plane certificates must chain to (PEM); required with `pki`, refused with `shared`. */
  ca?: string | Buffer;
}

/** The files of {@link ClusterTls.fromFiles} (the flags `--cluster-cert`, `--cluster-cert-key`, `--cluster-ca-cert`, `--cluster-mtls`). */
export interface ClusterTlsFiles {
  mode?: ClusterMtlsMode;
  certFile: string;
  keyFile: string;
  caFile?: string;
}

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
  readonly mode: ClusterMtlsMode;
  /** SHA-256 fingerprint of the control plane's certificate, `AB:CD:…` as Node prints it. */
  readonly fingerprint256: string;
  /** When the control plane's certificate expires. */
  readonly validTo: Date;
  private readonly cert: string | Buffer;
  private readonly key: string | Buffer;
  private readonly ca: string | Buffer | undefined;
  private readonly leafPem: string;

  constructor(options: ClusterTlsOptions, now: number = Date.now()) {
    this.mode = options.mode ?? (options.ca ? ClusterMtlsMode.PKI : ClusterMtlsMode.SHARED);
    if (this.mode !== ClusterMtlsMode.SHARED && this.mode !== ClusterMtlsMode.PKI) {
      throw new ConfigurationError(`--cluster-mtls must be shared or pki, got ${JSON.stringify(this.mode)}`);
    }
    if (this.mode === ClusterMtlsMode.PKI && !options.ca) throw new ConfigurationError('--cluster-mtls pki needs --cluster-ca-cert');
    if (this.mode === ClusterMtlsMode.SHARED && options.ca) {
      throw new ConfigurationError('--cluster-ca-cert is only used with --cluster-mtls pki (shared mode compares certificates, no CA is involved)');
    }
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(options.cert);
    } catch (err) {
      throw new ConfigurationError(`--cluster-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
    }
    let key;
    try {
      key = createPrivateKey(options.key);
    } catch (err) {
      throw new ConfigurationError(`--cluster-cert-key is not a PEM private key: ${(err as Error).message}`, { cause: err });
    }
    if (!leaf.checkPrivateKey(key)) throw new ConfigurationError('--cluster-cert-key is not the private key of --cluster-cert');
    this.validTo = new Date(leaf.validTo);
    if (this.validTo.getTime() < now) throw new ConfigurationError(`--cluster-cert expired on ${this.validTo.toISOString()}`);
    if (options.ca) {
      try {
        new X509Certificate(options.ca);
      } catch (err) {
        throw new ConfigurationError(`--cluster-ca-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
      }
    }
    this.cert = options.cert;
    this.key = options.key;
    this.ca = options.ca;
    this.leafPem = leaf.toString();
    this.fingerprint256 = leaf.fingerprint256;
  }

  /** Reads the files and builds the identity; every failure is a {@link ConfigurationError} naming the flag. */
  static fromFiles(files: ClusterTlsFiles): ClusterTls {
    const read = (flag: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ConfigurationError(`--${flag}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
      }
    };
    return new ClusterTls({
      mode: files.mode,
      cert: read('cluster-cert', files.certFile),
      key: read('cluster-cert-key', files.keyFile),
      ca: files.caFile === undefined ? undefined : read('cluster-ca-cert', files.caFile),
    });
  }

  /**
   * Options for `https.createServer`: a client certificate is required and verified during the
   * handshake (no certificate: the handshake fails with `certificate required`; one that does not
   * verify: the socket is destroyed right after it, before any HTTP is read). In shared mode the
   * trust anchor is our own leaf certificate, accepted even when it is not self-signed
   * (`allowPartialTrustChain`); the exact fingerprint is then compared by {@link checkPeer}.
   */
  serverOptions(): ServerOptions {
    const isShared = this.mode === ClusterMtlsMode.SHARED;
    return {
      cert: this.cert,
      key: this.key,
      ca: isShared ? [this.leafPem] : this.ca,
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

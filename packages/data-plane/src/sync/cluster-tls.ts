import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { InvalidArgumentError, SyncTlsError } from '../errors.js';

/**
 * How the data plane and the control plane authenticate each other (Kong's `cluster_mtls`):
 * - `shared`: both hold the same certificate and key; the control plane must present exactly that
 *   certificate (its SHA-256 fingerprint is pinned), and accepts us for presenting it too.
 * - `pki`: each node has its own certificate from the cluster CA; the control plane's certificate
 *   must chain to `--cluster-ca-cert` and name the server name (`--cluster-server-name`, default the
 *   host of `--control-plane`).
 */
export const ClusterMtlsMode = {
  SHARED: 'shared',
  PKI: 'pki',
} as const;
export type ClusterMtlsMode = (typeof ClusterMtlsMode)[keyof typeof ClusterMtlsMode];

/** The PEM material of {@link ClusterTls}. */
export interface ClusterTlsOptions {
  /** Default `pki` when `ca` is given, else `shared`. */
  readonly mode?: ClusterMtlsMode;
  /** This data plane's client certificate (PEM; intermediates may follow the leaf). */
  readonly cert: string | Buffer;
  /** Its private key (PEM, unencrypted). */
  readonly key: string | Buffer;
  /** The cluster CA (PEM); required with `pki`, refused with `shared`. */
  readonly ca?: string | Buffer;
  /** The name the control plane's certificate must carry, also sent as SNI (default: the URL's host). */
  readonly serverName?: string;
}

/** The files of {@link ClusterTls.fromFiles} (the flags `--cluster-cert`, `--cluster-cert-key`, `--cluster-ca-cert`). */
export interface ClusterTlsFiles {
  readonly mode?: ClusterMtlsMode;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
  readonly serverName?: string;
}

/**
 * The data plane's TLS identity toward the control plane and how it verifies the control plane.
 * Parsed and checked once (certificate against key, CA readable, not expired), so a wrong file
 * fails the start rather than every connection attempt; `connectOptions()` gives what the
 * `wss://` connection needs.
 */
export class ClusterTls {
  readonly mode: ClusterMtlsMode;
  /** SHA-256 fingerprint of this data plane's certificate, `AB:CD:…`. */
  readonly fingerprint256: string;
  readonly serverName: string | undefined;
  private readonly cert: string | Buffer;
  private readonly key: string | Buffer;
  private readonly ca: string | Buffer | undefined;
  private readonly leafPem: string;

  constructor(options: ClusterTlsOptions, now: number = Date.now()) {
    this.mode = options.mode ?? (options.ca ? ClusterMtlsMode.PKI : ClusterMtlsMode.SHARED);
    if (this.mode !== ClusterMtlsMode.SHARED && this.mode !== ClusterMtlsMode.PKI) {
      throw new InvalidArgumentError(`--cluster-mtls must be shared or pki, got ${JSON.stringify(this.mode)}`);
    }
    if (this.mode === ClusterMtlsMode.PKI && !options.ca) throw new InvalidArgumentError('--cluster-mtls pki needs --cluster-ca-cert');
    if (this.mode === ClusterMtlsMode.SHARED && options.ca) {
      throw new InvalidArgumentError('--cluster-ca-cert is only used with --cluster-mtls pki (shared mode pins the shared certificate, no CA is involved)');
    }
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(options.cert);
    } catch (err) {
      throw new InvalidArgumentError(`--cluster-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
    }
    let key;
    try {
      key = createPrivateKey(options.key);
    } catch (err) {
      throw new InvalidArgumentError(`--cluster-cert-key is not a PEM private key: ${(err as Error).message}`, { cause: err });
    }
    if (!leaf.checkPrivateKey(key)) throw new InvalidArgumentError('--cluster-cert-key is not the private key of --cluster-cert');
    const validTo = new Date(leaf.validTo);
    if (validTo.getTime() < now) throw new InvalidArgumentError(`--cluster-cert expired on ${validTo.toISOString()}`);
    if (options.ca) {
      try {
        new X509Certificate(options.ca);
      } catch (err) {
        throw new InvalidArgumentError(`--cluster-ca-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
      }
    }
    if (options.serverName !== undefined && !/^[A-Za-z0-9._:*-]+$/.test(options.serverName)) {
      throw new InvalidArgumentError(`--cluster-server-name must be a host name, got ${JSON.stringify(options.serverName)}`);
    }
    this.cert = options.cert;
    this.key = options.key;
    this.ca = options.ca;
    this.serverName = options.serverName;
    this.leafPem = leaf.toString();
    this.fingerprint256 = leaf.fingerprint256;
  }

  /** Reads the files and builds the identity; every failure is an {@link InvalidArgumentError} naming the flag. */
  static fromFiles(files: ClusterTlsFiles): ClusterTls {
    const read = (flag: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new InvalidArgumentError(`--${flag}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
      }
    };
    return new ClusterTls({
      mode: files.mode,
      cert: read('cluster-cert', files.certFile),
      key: read('cluster-cert-key', files.keyFile),
      ca: files.caFile === undefined ? undefined : read('cluster-ca-cert', files.caFile),
      serverName: files.serverName,
    });
  }

  /**
   * TLS options for the `wss://` connection to `host`: our certificate as the client certificate,
   * and the control plane verified either by pinning (shared: the chain check trusts only our own
   * leaf, then the fingerprint must be equal) or by the CA and the server name (pki).
   */
  connectOptions(host: string): ConnectionOptions {
    const name = this.serverName ?? host;
    // SNI carries host names only (RFC 6066); an IP address is still checked against the IP SANs.
    const servername = isIP(name) ? '' : name;
    if (this.mode === ClusterMtlsMode.SHARED) {
      return {
        cert: this.cert,
        key: this.key,
        ca: [this.leafPem],
        allowPartialTrustChain: true,
        rejectUnauthorized: true,
        servername,
        checkServerIdentity: (_host: string, peer: PeerCertificate) =>
          peer.fingerprint256 === this.fingerprint256
            ? undefined
            : new SyncTlsError(`the control plane presented certificate ${peer.fingerprint256}, not the shared cluster certificate ${this.fingerprint256}`),
      };
    }
    return {
      cert: this.cert,
      key: this.key,
      ca: this.ca,
      rejectUnauthorized: true,
      servername,
      checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerIdentity(name, peer),
    };
  }
}

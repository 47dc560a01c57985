import { checkClusterIdentity, ClusterMtlsMode, readClusterIdentityFiles, type ClusterIdentity, type ClusterIdentityFiles, type ClusterIdentityOptions } from '@sluice/protocol';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { InvalidArgumentError, SyncTlsError } from '../errors.js';

export { ClusterMtlsMode };

/** The PEM material of {@link ClusterTls}, and the control plane's name to verify. */
export interface ClusterTlsOptions extends ClusterIdentityOptions {
  /** The name the control plane's certificate must carry, also sent as SNI (default: the URL's host). */
  readonly serverName?: string;
}

/** The files of {@link ClusterTls.fromFiles} (the flags `--cluster-cert`, `--cluster-cert-key`, `--cluster-ca-cert`). */
export interface ClusterTlsFiles extends ClusterIdentityFiles {
  readonly serverName?: string;
}

/**
 * The data plane's TLS identity toward the control plane and how it verifies the control plane.
 * Parsed and checked once (certificate against key, CA readable, not expired), so a wrong file
 * fails the start rather than every connection attempt; `connectOptions()` gives what the
 * `wss://` connection needs.
 */
export class ClusterTls {
  readonly serverName: string | undefined;
  private readonly identity: ClusterIdentity;

  constructor(options: ClusterTlsOptions, now: number = Date.now()) {
    try {
      this.identity = checkClusterIdentity(options, now);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message, { cause: err });
    }
    if (options.serverName !== undefined && !/^[A-Za-z0-9._:*-]+$/.test(options.serverName)) {
      throw new InvalidArgumentError(`--cluster-server-name must be a host name, got ${JSON.stringify(options.serverName)}`);
    }
    this.serverName = options.serverName;
  }

  get mode(): ClusterMtlsMode {
    return this.identity.mode;
  }

  /** SHA-256 fingerprint of this data plane's certificate, `AB:CD:…`. */
  get fingerprint256(): string {
    return this.identity.fingerprint256;
  }

  /** Reads the files and builds the identity; every failure is an {@link InvalidArgumentError} naming the flag. */
  static fromFiles(files: ClusterTlsFiles): ClusterTls {
    let material;
    try {
      material = readClusterIdentityFiles(files);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message, { cause: err });
    }
    return new ClusterTls({ ...material, serverName: files.serverName });
  }

  /**
   * TLS options for the `wss://` connection to `host`: our certificate as the client certificate,
   * and the control plane verified either by pinning (shared: the chain check trusts only our own
   * leaf, then the fingerprint must be equal) or by the CA and the server name (pki).
   */
  connectOptions(host: string): ConnectionOptions {
    const { mode, cert, key, ca, leafPem, fingerprint256 } = this.identity;
    const name = this.serverName ?? host;
    // SNI carries host names only (RFC 6066); an IP address is still checked against the IP SANs.
    const servername = isIP(name) ? '' : name;
    if (mode === ClusterMtlsMode.SHARED) {
      return {
        cert,
        key,
        ca: [leafPem],
        allowPartialTrustChain: true,
        rejectUnauthorized: true,
        servername,
        checkServerIdentity: (_host: string, peer: PeerCertificate) =>
          peer.fingerprint256 === fingerprint256
            ? undefined
            : new SyncTlsError(`the control plane presented certificate ${peer.fingerprint256}, not the shared cluster certificate ${fingerprint256}`),
      };
    }
    return {
      cert,
      key,
      ca,
      rejectUnauthorized: true,
      servername,
      checkServerIdentity: (_host: string, peer: PeerCertificate) => checkServerIdentity(name, peer),
    };
  }
}

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * How the planes authenticate each other on the cluster stream (Kong's `cluster_mtls`):
 * - `shared`: every node holds the same certificate and key; each side accepts the other for
 *   presenting exactly that certificate (same SHA-256 fingerprint). No CA involved.
 * - `pki`: each node has its own certificate from the cluster CA (`--cluster-ca-cert`); the data
 *   plane also checks the control plane's name (`--cluster-server-name`).
 */
export const ClusterMtlsMode = {
  SHARED: 'shared',
  PKI: 'pki',
} as const;
export type ClusterMtlsMode = (typeof ClusterMtlsMode)[keyof typeof ClusterMtlsMode];

/** The PEM material of one node's cluster identity. */
export interface ClusterIdentityOptions {
  /** Default `pki` when `ca` is given, else `shared`. */
  readonly mode?: ClusterMtlsMode;
  /** The node's certificate (PEM; intermediates may follow the leaf). */
  readonly cert: string | Buffer;
  /** Its private key (PEM, unencrypted). */
  readonly key: string | Buffer;
  /** The cluster CA (PEM); required with `pki`, refused with `shared`. */
  readonly ca?: string | Buffer;
}

/** The files of a cluster identity, as the flags `--cluster-cert`, `--cluster-cert-key`, `--cluster-ca-cert` name them. */
export interface ClusterIdentityFiles {
  readonly mode?: ClusterMtlsMode;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
}

/** A checked cluster identity: the material, the mode it is used in, and its leaf certificate's facts. */
export interface ClusterIdentity {
  readonly mode: ClusterMtlsMode;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer | undefined;
  /** The leaf certificate alone, PEM (what shared mode trusts). */
  readonly leafPem: string;
  /** SHA-256 fingerprint of the leaf, `AB:CD:…` as Node prints it. */
  readonly fingerprint256: string;
  readonly validTo: Date;
}

/**
 * Checks a node's cluster identity once, at start, so that a wrong file fails the start and not
 * every handshake: the mode and the CA agree, the certificate and key parse and belong together,
 * the certificate has not expired, the CA parses. Throws a `TypeError` whose message names the
 * offending flag; each plane turns it into its own configuration error.
 */
export function checkClusterIdentity(options: ClusterIdentityOptions, now: number = Date.now()): ClusterIdentity {
  const mode = options.mode ?? (options.ca ? ClusterMtlsMode.PKI : ClusterMtlsMode.SHARED);
  if (mode !== ClusterMtlsMode.SHARED && mode !== ClusterMtlsMode.PKI) throw new TypeError(`--cluster-mtls must be shared or pki, got ${JSON.stringify(mode)}`);
  if (mode === ClusterMtlsMode.PKI && !options.ca) throw new TypeError('--cluster-mtls pki needs --cluster-ca-cert');
  if (mode === ClusterMtlsMode.SHARED && options.ca) {
    throw new TypeError('--cluster-ca-cert is only used with --cluster-mtls pki (shared mode compares certificates, no CA is involved)');
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(options.cert);
  } catch (err) {
    throw new TypeError(`--cluster-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  let key;
  try {
    key = createPrivateKey(options.key);
  } catch (err) {
    throw new TypeError(`--cluster-cert-key is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  if (!leaf.checkPrivateKey(key)) throw new TypeError('--cluster-cert-key is not the private key of --cluster-cert');
  const validTo = new Date(leaf.validTo);
  if (validTo.getTime() < now) throw new TypeError(`--cluster-cert expired on ${validTo.toISOString()}`);
  if (options.ca) {
    try {
      new X509Certificate(options.ca);
    } catch (err) {
      throw new TypeError(`--cluster-ca-cert is not a PEM certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  return { mode, cert: options.cert, key: options.key, ca: options.ca, leafPem: leaf.toString(), fingerprint256: leaf.fingerprint256, validTo };
}

/** Reads the files of a cluster identity; a file that cannot be read throws a `TypeError` naming its flag. */
export function readClusterIdentityFiles(files: ClusterIdentityFiles): ClusterIdentityOptions {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TypeError(`--${flag}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    mode: files.mode,
    cert: read('cluster-cert', files.certFile),
    key: read('cluster-cert-key', files.keyFile),
    ca: files.caFile === undefined ? undefined : read('cluster-ca-cert', files.caFile),
  };
}

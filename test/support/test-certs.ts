/**
 * Throwaway certificates for the cluster-stream mutual TLS tests, made at test time with the
 * `openssl` command line into a temporary directory (no private key is ever checked in). P-256
 * keys, valid for two days. Tests skip (with the reason) when `openssl` is not on the PATH.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as file paths. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** Every certificate the TLS tests use. */
export interface TestCerts {
  readonly dir: string;
  /** Shared mode: the one self-signed certificate every node holds (CN sluice_clustering). */
  readonly shared: CertFiles;
  /** Another self-signed certificate: a stranger in shared mode. */
  readonly otherSelfSigned: CertFiles;
  /** Issued by the shared certificate's key: passes a chain check anchored on it, but is not it. */
  readonly issuedByShared: CertFiles;
  /** PKI mode: the cluster CA. */
  readonly ca: CertFiles;
  /** The control plane's certificate from the CA: SAN DNS:sluice-cp.test, DNS:localhost, IP:127.0.0.1. */
  readonly cp: CertFiles;
  /** A data plane's certificate from the CA. */
  readonly dp: CertFiles;
  /** Another CA, and a data-plane certificate it issued. */
  readonly otherCa: CertFiles;
  readonly dpFromOtherCa: CertFiles;
  cleanup(): void;
}

/** Null when the `openssl` command runs, else why it does not (for a skip message). */
export function opensslUnavailable(): string | null {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `the openssl command is not available (${(err as Error).message.split('\n')[0]}); the cluster TLS tests need it to make throwaway certificates`;
  }
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function selfSigned(dir: string, name: string, cn: string): CertFiles {
  openssl(dir, ['req', '-x509', ...KEY_ARGS, '-days', '2', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function issued(dir: string, name: string, cn: string, issuer: CertFiles, extensions: string): CertFiles {
  openssl(dir, ['req', '-new', ...KEY_ARGS, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ]);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** Makes every certificate of {@link TestCerts} in a new temporary directory (a second or two). */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-certs-'));
  const server = 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:sluice-cp.test,DNS:localhost,IP:127.0.0.1\n';
  const client = 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n';
  const shared = selfSigned(dir, 'shared', 'sluice_clustering');
  const ca = selfSigned(dir, 'ca', 'Sluice Test CA');
  const otherCa = selfSigned(dir, 'other-ca', 'Other CA');
  return {
    dir,
    shared,
    otherSelfSigned: selfSigned(dir, 'other', 'sluice_clustering'),
    issuedByShared: issued(dir, 'issued-by-shared', 'sluice_clustering', shared, client),
    ca,
    cp: issued(dir, 'cp', 'sluice-cp', ca, server),
    dp: issued(dir, 'dp', 'sluice-dp', ca, client),
    otherCa,
    dpFromOtherCa: issued(dir, 'dp-other-ca', 'sluice-dp', otherCa, client),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

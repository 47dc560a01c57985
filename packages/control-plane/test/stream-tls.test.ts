/**
 * Mutual TLS on the cluster stream (Kong's `cluster_mtls = shared | pki`), proved against a real
 * ControlPlane (embedded database, stream server on loopback) and raw WebSocket clients that
 * present chosen certificates. Certificates are made at test time with the `openssl` command
 * (test/support/test-certs.ts); without it the file is skipped with the reason.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { decodeFrame, encodeFrame, frameBytes, pb, PROTOCOL_VERSION } from '@sluice/protocol';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { resolveSettings } from '../src/cli.js';
import { ControlPlane } from '../src/control-plane.js';
import { ConfigurationError } from '../src/errors.js';
import { ClusterTls } from '../src/stream/cluster-tls.js';
import { STREAM_PATH } from '../src/stream/stream-server.js';
import { makeTestCerts, opensslUnavailable, type CertFiles, type TestCerts } from '../../../test/support/test-certs.js';
import { silentLogger } from './support/admin.js';

const skipReason = opensslUnavailable();
if (skipReason) console.warn(`stream-tls.test.ts skipped: ${skipReason}`);
const describeTls = skipReason ? describe.skip : describe;

type Outcome =
  | { kind: 'helloAck'; mode: number }
  | { kind: 'http'; status: number }
  | { kind: 'error'; code: string; message: string };

/**
 * Connects to the stream with `options`, sends a Hello and reports how far it got: a HelloAck, an
 * HTTP answer to the upgrade, or a connection error (TLS alert, reset).
 */
function attempt(url: string, options: ConnectionOptions = {}, nodeId = randomUUID()): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url + STREAM_PATH, { perMessageDeflate: false, handshakeTimeout: 5_000, ...options });
    let outcome: Outcome | null = null;
    const finish = (o: Outcome) => {
      outcome ??= o;
      ws.terminate();
    };
    ws.on('open', () => {
      ws.send(
        encodeFrame({
          hello: {
            protocolVersion: PROTOCOL_VERSION,
            nodeId,
            instanceId: randomUUID(),
            hostname: 'tls-peer',
            codecs: [pb.Codec.CODEC_NONE],
            maxFrameBytes: 8 * 1024 * 1024,
            applied: { epoch: '', version: 0, hash: new Uint8Array(0) },
          },
        }),
      );
    });
    ws.on('message', (data) => {
      const frame = decodeFrame(frameBytes(data as Buffer), 64 * 1024 * 1024);
      if (frame.msg === 'helloAck') finish({ kind: 'helloAck', mode: frame.helloAck!.mode ?? 0 });
    });
    ws.on('unexpected-response', (_req, res) => finish({ kind: 'http', status: res.statusCode ?? 0 }));
    ws.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', code: err.code ?? '', message: err.message }));
    ws.on('close', () => resolve(outcome ?? { kind: 'error', code: 'CLOSED', message: 'closed without an outcome' }));
  });
}

/** Client TLS options presenting `cert` (or none) and trusting `trust` for the server. */
function client(cert: CertFiles | null, trust: string, servername = 'sluice-cp.test'): ConnectionOptions {
  return {
    ...(cert ? { cert: readFileSync(cert.cert), key: readFileSync(cert.key) } : {}),
    ca: readFileSync(trust),
    servername,
    // The shared certificate names no host; these tests are about the server's check of the client.
    checkServerIdentity: () => undefined,
  };
}

interface RunningCp {
  cp: ControlPlane;
  url: string;
  admin: string;
  logs: string[];
}

async function startCp(tls: ClusterTls | undefined, dirs: string[]): Promise<RunningCp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cp-tls-'));
  dirs.push(dataDir);
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  const cp = new ControlPlane({ logger, dataDir, adminListen: { host: '127.0.0.1', port: 0 }, clusterListen: { host: '127.0.0.1', port: 0 }, clusterTls: tls });
  const addresses = await cp.start();
  return { cp, url: `${addresses.clusterScheme}://127.0.0.1:${addresses.cluster!.port}`, admin: `http://127.0.0.1:${addresses.admin.port}`, logs };
}

async function dataPlaneIds(admin: string): Promise<string[]> {
  const body = (await (await fetch(`${admin}/clustering/data-planes`)).json()) as { data: { id: string }[] };
  return body.data.map((d) => d.id).sort();
}

async function replicaStatus(admin: string): Promise<{ mtls: string; refused_connections: number; connections: number }> {
  return ((await (await fetch(`${admin}/clustering/status`)).json()) as { replica: { mtls: string; refused_connections: number; connections: number } }).replica;
}

/** A plain HTTPS GET on the cluster port (no upgrade), with `options`. */
function httpsGet(url: string, options: ConnectionOptions): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest(`${url.replace(/^wss:/, 'https:')}/`, { ...options, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('sluice-cp cluster TLS settings', () => {
  it('pairs the flags and infers the mode', () => {
    expect(resolveSettings([], {})).toMatchObject({ clusterTls: null });
    expect(resolveSettings(['--cluster-cert', 'c.pem', '--cluster-cert-key', 'k.pem'], {})).toMatchObject({ clusterTls: { mode: 'shared', certFile: 'c.pem', keyFile: 'k.pem' } });
    expect(resolveSettings(['--cluster-cert', 'c.pem', '--cluster-cert-key', 'k.pem', '--cluster-ca-cert', 'ca.pem'], {})).toMatchObject({ clusterTls: { mode: 'pki', caFile: 'ca.pem' } });
    const env = { SLUICE_CLUSTER_CERT: 'c.pem', SLUICE_CLUSTER_CERT_KEY: 'k.pem', SLUICE_CLUSTER_CA_CERT: 'ca.pem', SLUICE_CLUSTER_MTLS: 'pki' };
    expect(resolveSettings([], env)).toMatchObject({ clusterTls: { mode: 'pki', certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' } });
  });

  it.each([
    [['--cluster-cert', 'c.pem']],
    [['--cluster-cert-key', 'k.pem']],
    [['--cluster-ca-cert', 'ca.pem']],
    [['--cluster-mtls', 'shared']],
    [['--cluster-cert', 'c.pem', '--cluster-cert-key', 'k.pem', '--cluster-mtls', 'pki']],
    [['--cluster-cert', 'c.pem', '--cluster-cert-key', 'k.pem', '--cluster-mtls', 'shared', '--cluster-ca-cert', 'ca.pem']],
    [['--cluster-cert', 'c.pem', '--cluster-cert-key', 'k.pem', '--cluster-mtls', 'mutual']],
  ])('refuses %j', (argv) => {
    expect(() => resolveSettings(argv, {})).toThrow(ConfigurationError);
  });
});

describeTls('cluster stream mutual TLS', () => {
  let certs: TestCerts;
  const dirs: string[] = [];
  const read = (path: string) => readFileSync(path);

  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => {
    certs?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses certificate files that do not belong together, are not PEM, or have expired', () => {
    const shared = { cert: read(certs.shared.cert), key: read(certs.shared.key) };
    expect(new ClusterTls(shared).mode).toBe('shared');
    expect(new ClusterTls({ cert: read(certs.cp.cert), key: read(certs.cp.key), ca: read(certs.ca.cert) }).mode).toBe('pki');
    const refusals: [string, () => unknown, RegExp][] = [
      ['key of another certificate', () => new ClusterTls({ cert: shared.cert, key: read(certs.otherSelfSigned.key) }), /not the private key/],
      ['key is not PEM', () => new ClusterTls({ cert: shared.cert, key: 'nope' }), /--cluster-cert-key is not a PEM private key/],
      ['certificate is not PEM', () => new ClusterTls({ cert: shared.key, key: shared.key }), /--cluster-cert is not a PEM certificate/],
      ['pki without a CA', () => new ClusterTls({ ...shared, mode: 'pki' }), /needs --cluster-ca-cert/],
      ['shared with a CA', () => new ClusterTls({ ...shared, mode: 'shared', ca: read(certs.ca.cert) }), /only used with --cluster-mtls pki/],
      ['expired', () => new ClusterTls(shared, Date.now() + 3 * 24 * 3600 * 1000), /expired/],
      ['missing file', () => ClusterTls.fromFiles({ certFile: join(certs.dir, 'missing.crt'), keyFile: certs.shared.key }), /--cluster-cert: cannot read/],
    ];
    for (const [what, make, message] of refusals) {
      let error: unknown;
      try {
        make();
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message, what).toMatch(message);
    }
  });

  it('without a certificate stays plain ws:// and warns at start that the stream is unauthenticated', async () => {
    const { cp, url, logs } = await startCp(undefined, dirs);
    try {
      expect(url).toMatch(/^ws:\/\//);
      expect((await attempt(url)).kind).toBe('helloAck');
      const warning = logs.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => /unauthenticated/.test(l.msg));
      expect(warning?.level).toBe(40);
    } finally {
      await cp.stop();
    }
  });

  describe('shared mode', () => {
    let running: RunningCp;
    beforeAll(async () => {
      running = await startCp(ClusterTls.fromFiles({ certFile: certs.shared.cert, keyFile: certs.shared.key }), dirs);
    });
    afterAll(() => running?.cp.stop());

    it('admits a data plane presenting the shared certificate', async () => {
      expect(running.url).toMatch(/^wss:\/\//);
      const nodeId = randomUUID();
      expect(await attempt(running.url, client(certs.shared, certs.shared.cert), nodeId)).toMatchObject({ kind: 'helloAck', mode: pb.HelloAck.Mode.MODE_SNAPSHOT });
      expect(await dataPlaneIds(running.admin)).toContain(nodeId);
    });

    it('refuses, before any session or registry entry, a client without a certificate, with another one, one merely issued by the shared key, or speaking plain ws://', async () => {
      const before = await dataPlaneIds(running.admin);
      const refusedBefore = (await replicaStatus(running.admin)).refused_connections;

      const none = await attempt(running.url, client(null, certs.shared.cert));
      expect(none).toMatchObject({ kind: 'error', code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });

      // Verified during the handshake against the shared certificate: the socket is destroyed before any HTTP.
      const stranger = await attempt(running.url, client(certs.otherSelfSigned, certs.shared.cert));
      expect(stranger).toMatchObject({ kind: 'error', code: 'ECONNRESET' });

      // This one chains to the shared certificate, so the TLS layer lets it through; the fingerprint
      // check at the upgrade answers 403.
      expect(await attempt(running.url, client(certs.issuedByShared, certs.shared.cert))).toEqual({ kind: 'http', status: 403 });
      expect(await httpsGet(running.url, client(certs.issuedByShared, certs.shared.cert))).toBe(403);
      expect(await httpsGet(running.url, client(certs.shared, certs.shared.cert))).toBe(404);

      const plain = await attempt(running.url.replace(/^wss:/, 'ws:'));
      expect(plain).toMatchObject({ kind: 'error', code: 'ECONNRESET' });

      expect(await dataPlaneIds(running.admin)).toEqual(before);
      const status = await replicaStatus(running.admin);
      expect(status.mtls).toBe('shared');
      expect(status.refused_connections).toBeGreaterThanOrEqual(refusedBefore + 5);
      expect(running.logs.some((l) => /refused a cluster stream connection/.test(l))).toBe(true);
    });
  });

  describe('pki mode', () => {
    let running: RunningCp;
    beforeAll(async () => {
      running = await startCp(ClusterTls.fromFiles({ certFile: certs.cp.cert, keyFile: certs.cp.key, caFile: certs.ca.cert }), dirs);
    });
    afterAll(() => running?.cp.stop());

    it('admits a data plane whose certificate the cluster CA issued, and the data plane can verify the server name', async () => {
      const nodeId = randomUUID();
      const options = { cert: read(certs.dp.cert), key: read(certs.dp.key), ca: read(certs.ca.cert), servername: 'sluice-cp.test' };
      expect(await attempt(running.url, options, nodeId)).toMatchObject({ kind: 'helloAck' });
      expect(await dataPlaneIds(running.admin)).toContain(nodeId);
      // Node's default check against the certificate's names: another name is refused by the client.
      const wrongName = await attempt(running.url, { ...options, servername: 'elsewhere.test' });
      expect(wrongName).toMatchObject({ kind: 'error', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    });

    it('refuses certificates from another CA, the shared-mode certificate, and no certificate', async () => {
      const before = await dataPlaneIds(running.admin);
      expect(await attempt(running.url, client(certs.dpFromOtherCa, certs.ca.cert))).toMatchObject({ kind: 'error', code: 'ECONNRESET' });
      expect(await attempt(running.url, client(certs.shared, certs.ca.cert))).toMatchObject({ kind: 'error', code: 'ECONNRESET' });
      expect(await attempt(running.url, client(null, certs.ca.cert))).toMatchObject({ kind: 'error', code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
      expect(await dataPlaneIds(running.admin)).toEqual(before);
      expect((await replicaStatus(running.admin)).mtls).toBe('pki');
    });
  });
});

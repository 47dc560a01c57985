/**
 * The drill's own entities and upstream: a service `sluice-drill-<run>` (always: its tag is what
 * the drill rewrites to make a new config version after each restore), and, unless `--path` names
 * an existing route, a route `/sluice-drill-<run>` to an upstream the drill serves itself (one
 * tiny HTTP server answering 200). Everything it creates carries the tag `sluice-drill` and is
 * deleted at the end.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterProbe } from './cluster-probe.js';

/** The tag on every entity a drill creates. */
export const DRILL_TAG = 'sluice-drill';

/** Time between two attempts of a marker write while the cluster recovers, in ms (default 200). */
export const MARKER_RETRY_MS = 200;

/** A failed setup step of the drill (the cluster refused the drill's entities). */
export class DrillSetupError extends Error {}

/** See the module comment. */
export class DrillFixture {
  /** The path the traffic requests. */
  readonly path: string;
  /** Whether the drill created the route (false with `--path`). */
  readonly ownsRoute: boolean;
  private readonly serviceName: string;
  private readonly routeName: string;
  private upstream: Server | null = null;
  private marks = 0;

  private constructor(
    private readonly probe: ClusterProbe,
    runId: string,
    path: string | null,
  ) {
    this.serviceName = `sluice-drill-${runId}`;
    this.routeName = `sluice-drill-${runId}`;
    this.ownsRoute = path === null;
    this.path = path ?? `/sluice-drill-${runId}/ping`;
  }

  /** Starts the upstream (when the drill owns the route) and creates the entities; resolves with the config version of the last write. */
  static async create(probe: ClusterProbe, options: { runId: string; path: string | null; upstreamListen: { host: string; port: number } }): Promise<{ fixture: DrillFixture; version: number }> {
    const fixture = new DrillFixture(probe, options.runId, options.path);
    let url = 'http://127.0.0.1:9';
    if (fixture.ownsRoute) {
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' }).end('ok\n');
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.upstreamListen.port, options.upstreamListen.host, () => resolve());
      });
      fixture.upstream = server;
      const host = options.upstreamListen.host.includes(':') ? `[${options.upstreamListen.host}]` : options.upstreamListen.host;
      url = `http://${host}:${(server.address() as AddressInfo).port}`;
    }
    const service = await probe.admin('POST', '/services', { name: fixture.serviceName, url, tags: [DRILL_TAG] });
    if (service.status !== 201) throw new DrillSetupError(`creating service ${fixture.serviceName} answered ${service.status}: ${JSON.stringify(service.body)}`);
    let version = service.version ?? 0;
    if (fixture.ownsRoute) {
      const route = await probe.admin('POST', `/services/${fixture.serviceName}/routes`, { name: fixture.routeName, paths: [fixture.path.replace(/\/ping$/, '')], tags: [DRILL_TAG] });
      if (route.status !== 201) throw new DrillSetupError(`creating route ${fixture.routeName} answered ${route.status}: ${JSON.stringify(route.body)}`);
      version = route.version ?? version;
    }
    return { fixture, version };
  }

  /**
   * Writes a new config version (the service's tags name the phase), retrying until a replica
   * takes it or `deadlineMs` passes (the cluster may still be recovering); resolves with the
   * version, or null when no write succeeded. An aborted `signal` makes it one attempt.
   */
  async mark(phase: string, deadlineMs: number, signal?: AbortSignal): Promise<number | null> {
    const tags = [DRILL_TAG, `phase-${++this.marks}-${phase}`];
    for (;;) {
      const res = await this.probe.admin('PATCH', `/services/${this.serviceName}`, { tags });
      if (res.status === 200 && res.version !== null) return res.version;
      if (Date.now() >= deadlineMs || signal?.aborted) return null;
      await new Promise((r) => setTimeout(r, MARKER_RETRY_MS));
    }
  }

  /** Deletes the drill's route and service and stops its upstream. Best effort: a failure is returned, not thrown. */
  async remove(): Promise<string | null> {
    let problem: string | null = null;
    if (this.ownsRoute) {
      const route = await this.probe.admin('DELETE', `/routes/${this.routeName}`);
      if (route.status !== 204) problem = `deleting route ${this.routeName} answered ${route.status}`;
    }
    const service = await this.probe.admin('DELETE', `/services/${this.serviceName}`);
    if (service.status !== 204) problem ??= `deleting service ${this.serviceName} answered ${service.status}`;
    const upstream = this.upstream;
    if (upstream) {
      await new Promise<void>((resolve) => {
        upstream.close(() => resolve());
        upstream.closeAllConnections();
      });
    }
    return problem;
  }
}

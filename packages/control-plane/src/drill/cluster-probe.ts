/**
 * The drill's reads and writes of a running cluster, over HTTP only: each replica's
 * `/clustering/status` and `/clustering/data-planes`, each data plane's `/status`, and the Admin
 * API writes of the drill's own entities. Every call is bounded by {@link PROBE_TIMEOUT_MS}.
 */
import { CONFIG_VERSION_HEADER } from '../admin/endpoint.js';
import type { DrillDataPlane } from './drill-plan.js';

/** How long one probe or write may take, in ms (default 3000). */
export const PROBE_TIMEOUT_MS = 3_000;

/** A config state as both planes report it. */
export interface ConfigHead {
  readonly epoch: string;
  readonly version: number;
  readonly hash: string;
}

/** What the drill reads of one data plane's `GET /status` (null fields: unreachable or no config). */
export interface DataPlaneState {
  readonly proxyUrl: string;
  readonly statusUrl: string;
  readonly reachable: boolean;
  readonly nodeId: string | null;
  readonly ready: boolean;
  readonly epoch: string | null;
  readonly version: number | null;
  readonly hash: string | null;
  /** The control-plane address it is connected to (or trying), and the connection state. */
  readonly controlPlaneUrl: string | null;
  readonly controlPlaneState: string | null;
}

/** A row of `/clustering/data-planes`, the fields the drill checks. */
export interface RegistryRow {
  readonly id: string;
  readonly connected: boolean;
  readonly sync_status: string;
  readonly config: ConfigHead;
}

/** The answer of an Admin API call: status and parsed JSON body (null when not JSON). */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly version: number | null;
}

async function request(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** See the module comment. */
export class ClusterProbe {
  constructor(
    private readonly adminUrls: readonly string[],
    private readonly dataPlanes: readonly DrillDataPlane[],
  ) {}

  /** The head of every replica that answers `/clustering/status`, by admin URL (unreachable ones left out). */
  async replicaHeads(): Promise<Map<string, ConfigHead>> {
    const heads = new Map<string, ConfigHead>();
    await Promise.all(
      this.adminUrls.map(async (url) => {
        try {
          const res = await request('GET', `${url}/clustering/status`);
          const config = (res.body as { config?: ConfigHead } | null)?.config;
          if (res.status === 200 && config && typeof config.version === 'number') heads.set(url, { epoch: config.epoch, version: config.version, hash: config.hash });
        } catch {
          // Unreachable (stopped, restarting): the others answer.
        }
      }),
    );
    return heads;
  }

  /** The `/clustering/data-planes` rows (every page) of the first replica that answers, or null when none does. */
  async registry(): Promise<RegistryRow[] | null> {
    for (const url of this.adminUrls) {
      try {
        const rows: RegistryRow[] = [];
        let next: string | null = '/clustering/data-planes?size=1000';
        while (next !== null) {
          const res = await request('GET', `${url}${next}`);
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
          const page = res.body as { data: RegistryRow[]; next: string | null };
          rows.push(...page.data);
          next = page.next;
        }
        return rows;
      } catch {
        // Try the next replica.
      }
    }
    return null;
  }

  /** Every data plane's state, in the order given. */
  dataPlaneStates(): Promise<DataPlaneState[]> {
    return Promise.all(this.dataPlanes.map((dp) => this.dataPlaneState(dp)));
  }

  async dataPlaneState(dp: DrillDataPlane): Promise<DataPlaneState> {
    const unreachable = { ...dp, reachable: false, nodeId: null, ready: false, epoch: null, version: null, hash: null, controlPlaneUrl: null, controlPlaneState: null };
    try {
      const res = await request('GET', `${dp.statusUrl}/status`);
      if (res.status !== 200 || res.body === null) return unreachable;
      const s = res.body as { node_id: string; ready: boolean; epoch: string | null; version: number | null; hash: string | null; control_plane: { url: string; state: string } | null };
      return {
        ...dp,
        reachable: true,
        nodeId: s.node_id,
        ready: s.ready,
        epoch: s.epoch,
        version: s.version,
        hash: s.hash,
        controlPlaneUrl: s.control_plane?.url ?? null,
        controlPlaneState: s.control_plane?.state ?? null,
      };
    } catch {
      return unreachable;
    }
  }

  /** An Admin API call on the first replica that answers below 500 (a replica down or without its database is skipped). */
  async admin(method: string, path: string, body?: unknown): Promise<AdminAnswer> {
    let last: AdminAnswer = { status: 0, body: null, version: null };
    for (const url of this.adminUrls) {
      try {
        const res = await request(method, `${url}${path}`, body);
        const header = res.headers.get(CONFIG_VERSION_HEADER);
        last = { status: res.status, body: res.body, version: header === null ? null : Number(header) };
        if (res.status < 500) return last;
      } catch (err) {
        last = { status: 0, body: { message: (err as Error).message }, version: null };
      }
    }
    return last;
  }
}

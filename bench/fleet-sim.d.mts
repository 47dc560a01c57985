// Types of bench/fleet-sim.mjs, for the TypeScript tests that drive it (test/fleet.e2e.test.ts).

/** The data plane's reconnect backoff: base and cap, in ms. */
export declare const RECONNECT_BASE_MS: number;
export declare const RECONNECT_CAP_MS: number;
export declare const HEARTBEAT_GRACE_MS: number;

/** The config a simulated data plane holds: payloads by kind/id and the additive content hash. */
export declare class SimulatedConfig {
  readonly epoch: string;
  readonly version: number;
  readonly resources: ReadonlyMap<string, Uint8Array>;
  state(): { epoch: string; version: number; hash: Uint8Array };
  /** The content hash as 64 hex characters ('' before any config). */
  hashHex(): string;
}

/** Counters of one simulated data plane. */
export interface SimulatedDataPlaneStats {
  connects: number;
  snapshots: number;
  deltas: number;
  nacks: number;
  resyncs: number;
}

export type AppliedListener = (dp: SimulatedDataPlane, config: SimulatedConfig, kind: 'delta' | 'snapshot') => void;

export interface SimulatedDataPlaneOptions {
  /** The control plane's cluster origin, e.g. ws://127.0.0.1:8005. */
  url: string;
  nodeId?: string;
  hostname?: string;
  labels?: Record<string, string>;
  onApplied?: AppliedListener;
  onConnected?: (dp: SimulatedDataPlane) => void;
}

/** One protocol-level data plane over its own WebSocket. */
export declare class SimulatedDataPlane {
  constructor(options: SimulatedDataPlaneOptions);
  readonly nodeId: string;
  url: string;
  readonly config: SimulatedConfig;
  readonly isConnected: boolean;
  readonly stats: SimulatedDataPlaneStats;
  start(options?: { immediately?: boolean }): void;
  stop(): Promise<void>;
  /** Holds every push from here on: received, neither applied nor acked until release(). */
  hold(): void;
  /** Applies and acks the held pushes, in order, and stops holding. */
  release(): void;
}

export interface SimulatedFleetOptions {
  url: string;
  size: number;
  onApplied?: AppliedListener;
}

/** A fleet of simulated data planes against one control plane. */
export declare class SimulatedFleet {
  constructor(options: SimulatedFleetOptions);
  readonly dataPlanes: readonly SimulatedDataPlane[];
  start(): void;
  stop(): Promise<void[]>;
  retarget(url: string): void;
  until(predicate: (dp: SimulatedDataPlane) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves once every data plane holds `state` (hash as hex). */
  converged(state: { epoch: string; version: number; hash: string }, timeoutMs?: number): Promise<void>;
  totals(): SimulatedDataPlaneStats & { connected: number };
}

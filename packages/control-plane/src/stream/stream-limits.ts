/**
 * Time a snapshot send may make no progress at all (the socket's queue not shrinking, no frame
 * finishing writing) before its slot is released and the data plane closed with 4003, in ms
 * (default 5000). A data plane that stops reading would otherwise hold one of the
 * `maxConcurrentSnapshots` slots for `slowConsumerTimeoutMs` (30 s), and a few of them every slot;
 * one that reads slowly but steadily keeps its slot.
 */
export const SNAPSHOT_STALL_TIMEOUT_MS = 5_000;

/** Limits and timings of the control plane's side of the cluster stream. Every one is overridable in `StreamServerOptions`. */
export interface StreamLimits {
  /** Largest frame accepted from a data plane, in bytes (default MAX_FRAME_BYTES, 8 MiB). */
  maxFrameBytes: number;
  /** Time a new connection has to send Hello, in ms (default 5000). */
  helloTimeoutMs: number;
  /** Heartbeat interval announced to data planes, in ms (default 5000). */
  heartbeatIntervalMs: number;
  /** Extra silence tolerated on top of two heartbeat intervals before a peer is dropped, in ms (default 2000). */
  heartbeatGraceMs: number;
  /** Time a data plane has to acknowledge a push, in ms (default 60000). */
  ackTimeoutMs: number;
  /** Bytes queued on one socket above which no more snapshot chunks are queued (default 4 MiB). */
  highWaterBytes: number;
  /** Bytes queued on one socket above which the peer counts as slow (default 16 MiB). */
  maxBufferedBytes: number;
  /** Time a socket may stay above `maxBufferedBytes` before it is closed with 4003, in ms (default 30000). */
  slowConsumerTimeoutMs: number;
  /** Snapshots sent at once by this replica; others wait their turn (default 8). */
  maxConcurrentSnapshots: number;
  /** Time a snapshot send may make no progress before its slot is freed and the peer closed with 4003, in ms (default {@link SNAPSHOT_STALL_TIMEOUT_MS}, 5000). */
  snapshotStallTimeoutMs: number;
  /** Connections this replica accepts at once; more are refused with RETRY_LATER (default 10000). */
  maxConnections: number;
  /** Time a TLS handshake on the cluster port may take, in ms (default 10000; only with TLS). */
  tlsHandshakeTimeoutMs: number;
  /** Retry hint given with RETRY_LATER, in ms (default 2000; data planes add jitter). */
  retryAfterMs: number;
  /** Reconnect window announced in GoAway on shutdown, in ms (default 0..5000): each data plane moves at a random time within it. */
  goAwayReconnectMinMs: number;
  goAwayReconnectMaxMs: number;
  /**
   * Time a draining replica (SIGTERM, `StreamServer.close`) waits after GoAway for its data planes
   * to leave before it closes what is left (4005), in ms (default {@link DRAIN_TIMEOUT_MS}, 10000:
   * twice the GoAway window). `sluice-cp --cluster-drain-timeout`.
   */
  drainTimeoutMs: number;
}

/** Default {@link StreamLimits.drainTimeoutMs}, in ms (10 s). */
export const DRAIN_TIMEOUT_MS = 10_000;

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxFrameBytes: 8 * 1024 * 1024,
  helloTimeoutMs: 5_000,
  heartbeatIntervalMs: 5_000,
  heartbeatGraceMs: 2_000,
  ackTimeoutMs: 60_000,
  highWaterBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  slowConsumerTimeoutMs: 30_000,
  maxConcurrentSnapshots: 8,
  snapshotStallTimeoutMs: SNAPSHOT_STALL_TIMEOUT_MS,
  maxConnections: 10_000,
  tlsHandshakeTimeoutMs: 10_000,
  retryAfterMs: 2_000,
  goAwayReconnectMinMs: 0,
  goAwayReconnectMaxMs: 5_000,
  drainTimeoutMs: DRAIN_TIMEOUT_MS,
};

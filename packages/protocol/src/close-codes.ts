/**
 * WebSocket close codes used on the cluster stream. 1000–1011 are RFC 6455's; 4000–4999 are
 * Sluice's own and stable: peers and dashboards may branch on them.
 */
export const CloseCode = {
  /** Orderly shutdown or GoAway. */
  NORMAL: 1000,
  /** The peer is going away (process stopping). */
  GOING_AWAY: 1001,
  /** A frame broke the protocol (undecodable, unexpected, out of order). */
  PROTOCOL_ERROR: 1002,
  /** Policy violation (e.g. Hello not sent in time). */
  POLICY: 1008,
  /** A frame was larger than the receiver's limit. */
  TOO_BIG: 1009,
  /** Internal error on the side that closes. */
  INTERNAL: 1011,
  /** The peer speaks a protocol version this side does not. */
  INCOMPATIBLE_VERSION: 4000,
  /** No Hello within the handshake timeout. */
  HANDSHAKE_TIMEOUT: 4001,
  /** No heartbeat or pong within interval + grace. */
  HEARTBEAT_TIMEOUT: 4002,
  /** The peer's send buffer stayed above its cap: a slow consumer is dropped rather than buffered without bound. */
  SLOW_CONSUMER: 4003,
  /** A push was not acknowledged within the ack timeout. */
  ACK_TIMEOUT: 4004,
  /** The control plane is shutting down or rebalancing; reconnect after a jittered delay. */
  GO_AWAY: 4005,
  /** Another connection with the same node id replaced this one. */
  REPLACED: 4006,
  /** The control plane is overloaded; retry later. */
  RETRY_LATER: 4007,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

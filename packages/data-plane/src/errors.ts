import { pb, type EntityKind } from '@sluice/protocol';

/**
 * Stable error codes raised by the data plane. Callers (and tests, and dashboards reading
 * `/status`) branch on these, never on messages.
 */
export const DataPlaneErrorCode = {
  /** A config (snapshot, delta, cache or declarative file) was refused; nothing was applied. */
  CONFIG_REJECTED: 'SLUICE_DP_CONFIG_REJECTED',
  /** A cache file is truncated, corrupt, of another format, or does not validate. */
  CACHE_CORRUPT: 'SLUICE_DP_CACHE_CORRUPT',
  /** Reading or writing the cache directory failed (permissions, disk full, ...). */
  CACHE_IO: 'SLUICE_DP_CACHE_IO',
  /** The declarative config file cannot be read, parsed, or does not validate. */
  DECLARATIVE_CONFIG: 'SLUICE_DP_DECLARATIVE_CONFIG',
  /** The control plane broke the protocol (unexpected frame, bad sequence). */
  SYNC_PROTOCOL: 'SLUICE_DP_SYNC_PROTOCOL',
  /** The control plane connection failed or was closed. */
  SYNC_CONNECTION: 'SLUICE_DP_SYNC_CONNECTION',
  /** The TLS handshake with the control plane failed, or one side refused the other's certificate. */
  SYNC_TLS: 'SLUICE_DP_SYNC_TLS',
  /** The control plane is draining (GoAway); the data plane reconnects within its window. */
  SYNC_GO_AWAY: 'SLUICE_DP_SYNC_GO_AWAY',
  /** The control plane refused the stream with a ProtocolError frame (e.g. an incompatible version). */
  SYNC_REFUSED: 'SLUICE_DP_SYNC_REFUSED',
  /** The control plane replica is behind this data plane, or overloaded: retry later. */
  SYNC_RETRY_LATER: 'SLUICE_DP_SYNC_RETRY_LATER',
  /**
   * The control plane withholds its head from this data plane: the config uses plugins it has not
   * loaded (`--plugins`; capability negotiation). It keeps serving what it has.
   */
  SYNC_INCOMPATIBLE: 'SLUICE_DP_SYNC_INCOMPATIBLE',
  /** Nothing arrived from the control plane for 2 × heartbeat + grace. */
  SYNC_HEARTBEAT_TIMEOUT: 'SLUICE_DP_SYNC_HEARTBEAT_TIMEOUT',
  /** The data plane failed to start for a reason without a more specific code. */
  START: 'SLUICE_DP_START',
  /** Sending the request body upstream took longer than the service's write_timeout (answered 504). */
  UPSTREAM_WRITE_TIMEOUT: 'SLUICE_DP_UPSTREAM_WRITE_TIMEOUT',
  /** The client went away; its upstream request was aborted. */
  CLIENT_GONE: 'SLUICE_DP_CLIENT_GONE',
  /** A plugin handler threw or rejected: the request was answered 500 (or, in the log phase, the error was logged). */
  PLUGIN_FAILED: 'SLUICE_DP_PLUGIN_FAILED',
  /** A config being applied in slices was abandoned between two slices (its connection closed). */
  APPLY_ABANDONED: 'SLUICE_DP_APPLY_ABANDONED',
  /** The rate-limiting counter store (Redis, or for a proxy worker the primary process) could not count a request. */
  RATE_LIMIT_STORE: 'SLUICE_DP_RATE_LIMIT_STORE',
  /** A command-line flag or environment variable has an invalid value. */
  INVALID_ARGUMENT: 'SLUICE_DP_INVALID_ARGUMENT',
  /** A listener could not bind, or the data plane was used after close. */
  LIFECYCLE: 'SLUICE_DP_LIFECYCLE',
} as const;
export type DataPlaneErrorCode = (typeof DataPlaneErrorCode)[keyof typeof DataPlaneErrorCode];

/** Base class of every error the data plane raises: a stable `code` and, when there is one, a `cause`. */
export class DataPlaneError extends Error {
  override readonly name: string = 'DataPlaneError';
  readonly code: DataPlaneErrorCode;

  constructor(code: DataPlaneErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * Why one entity of a refused config is wrong. `code` is one of `ResourceErrorCode`; the pair
 * (`type`, `id`) names the entity as it travelled (`kind` is undefined for an unknown `type`).
 */
export interface ResourceErrorView {
  readonly type: number;
  readonly kind: EntityKind | undefined;
  readonly id: string;
  readonly code: ResourceErrorCode;
  readonly message: string;
}

/** Per-entity error codes carried in `Ack.resource_errors[].code`. */
export const ResourceErrorCode = {
  /** The payload does not decode as the entity its type names. */
  DECODE: 'SLUICE_DP_ENTITY_DECODE',
  /** The entity type is not one this data plane knows. */
  UNKNOWN_TYPE: 'SLUICE_DP_ENTITY_UNKNOWN_TYPE',
  /** The entity breaks Kong's schema rules (message: Kong's schema-violation text). */
  INVALID: 'SLUICE_DP_ENTITY_INVALID',
  /** The payload's id differs from the resource key's id. */
  ID_MISMATCH: 'SLUICE_DP_ENTITY_ID_MISMATCH',
  /** The same entity appears twice in one batch. */
  DUPLICATE: 'SLUICE_DP_ENTITY_DUPLICATE',
  /** A unique field (e.g. a name) is used by two entities of the resulting config. */
  UNIQUE_VIOLATION: 'SLUICE_DP_ENTITY_UNIQUE_VIOLATION',
  /** The entity references another that the resulting config does not contain. */
  DANGLING_REF: 'SLUICE_DP_ENTITY_DANGLING_REF',
  /** The router refused the entity (e.g. a regex it cannot compile). */
  ROUTER: 'SLUICE_DP_ENTITY_ROUTER',
  /** A plugin entity names a plugin this data plane does not run (not bundled, or left out by `--plugins`): refused, never skipped. */
  PLUGIN_UNAVAILABLE: 'SLUICE_DP_ENTITY_PLUGIN_UNAVAILABLE',
  /** A plugin's handler refused its config (a config the control plane should not have let through). */
  PLUGIN_CONFIG: 'SLUICE_DP_ENTITY_PLUGIN_CONFIG',
} as const;
export type ResourceErrorCode = (typeof ResourceErrorCode)[keyof typeof ResourceErrorCode];

/** The `Ack.Error` values (`sluice.v1.Ack.Error`) a refusal can carry. */
export const AckError = pb.Ack.Error;
export type AckError = (typeof pb.Ack.Error)[keyof typeof pb.Ack.Error];

/** The name of an `Ack.Error` value, e.g. `ERROR_INVALID`, for logs and `/status`. */
export function ackErrorName(error: number): string {
  return (pb.Ack.Error as unknown as Record<number, string>)[error] ?? `ERROR_${error}`;
}

/**
 * A refused config: what the data plane answers in a NACK. Nothing was applied; the serving config
 * and the disk cache are untouched. `ackError` is the `Ack.Error` to send, `rejectedVersion` the
 * version that was refused, `resourceErrors` one entry per faulty entity (bounded by
 * `MAX_RESOURCE_ERRORS`).
 */
export class ConfigRejectedError extends DataPlaneError {
  override readonly name = 'ConfigRejectedError';
  readonly ackError: AckError;
  readonly rejectedVersion: number;
  readonly resourceErrors: readonly ResourceErrorView[];

  constructor(ackError: AckError, message: string, options: { rejectedVersion: number; resourceErrors?: readonly ResourceErrorView[]; cause?: unknown }) {
    super(DataPlaneErrorCode.CONFIG_REJECTED, `${ackErrorName(ackError)}: ${message}`, options);
    this.ackError = ackError;
    this.rejectedVersion = options.rejectedVersion;
    this.resourceErrors = options.resourceErrors ?? [];
  }
}

/** A cache file that must not be served: truncated, corrupt, of an unknown format, or invalid. */
export class CacheCorruptError extends DataPlaneError {
  override readonly name = 'CacheCorruptError';
  /** The file that was refused. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.CACHE_CORRUPT, `${path}: ${message}`, options);
    this.path = path;
  }
}

/** An I/O failure in the cache directory. */
export class CacheIoError extends DataPlaneError {
  override readonly name = 'CacheIoError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.CACHE_IO, message, options);
  }
}

/** The declarative config file cannot be served. */
export class DeclarativeConfigError extends DataPlaneError {
  override readonly name = 'DeclarativeConfigError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.DECLARATIVE_CONFIG, message, options);
  }
}

/** The control plane sent something the protocol does not allow; carries the close code to use. */
export class SyncProtocolError extends DataPlaneError {
  override readonly name = 'SyncProtocolError';
  readonly closeCode: number;

  constructor(message: string, closeCode: number, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.SYNC_PROTOCOL, message, options);
    this.closeCode = closeCode;
  }
}

/** The control plane connection failed or closed; `closeCode` is the WebSocket close code when there was one. */
export class SyncConnectionError extends DataPlaneError {
  override readonly name = 'SyncConnectionError';
  readonly closeCode: number | undefined;

  constructor(message: string, closeCode?: number, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.SYNC_CONNECTION, message, options);
    this.closeCode = closeCode;
  }
}

/**
 * Mutual TLS with the control plane failed: its certificate does not verify (CA, server name, or
 * the pinned shared certificate), it refused ours (TLS alert, or 401/403 at the upgrade), or one
 * side does not speak TLS. Retried with the normal backoff like any connection failure.
 */
export class SyncTlsError extends DataPlaneError {
  override readonly name = 'SyncTlsError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.SYNC_TLS, message, options);
  }
}

/** A flag or environment variable with an invalid value. */
export class InvalidArgumentError extends DataPlaneError {
  override readonly name = 'InvalidArgumentError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.INVALID_ARGUMENT, message, options);
  }
}

/** A lifecycle failure: a listener that cannot bind, a data plane used after close. */
export class LifecycleError extends DataPlaneError {
  override readonly name = 'LifecycleError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.LIFECYCLE, message, options);
  }
}

/**
 * The rate-limiting counter store could not count a request: Redis failed, timed out or is
 * skipped by its circuit breaker, or a proxy worker's primary did not answer in time. A plugin
 * with `fault_tolerant` decides from its local share (redis) or lets the request through (local);
 * otherwise the request is answered 500.
 */
export class RateLimitStoreError extends DataPlaneError {
  override readonly name = 'RateLimitStoreError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(DataPlaneErrorCode.RATE_LIMIT_STORE, message, options);
  }
}

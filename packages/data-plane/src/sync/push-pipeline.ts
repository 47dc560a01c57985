import { CloseCode, hashEquals, pb, ProtocolErrorCode, SnapshotAssembler, unpackBatch, unpackBatchAsync } from '@sluice/protocol';
import type { BlobMessage, ConfigDeltaMessage, ConfigStateMessage, EnvelopeProperties, PackedBody, ProtocolError, SnapshotBeginMessage, SnapshotChunkMessage } from '@sluice/protocol';
import { deltaSteps, type DeltaInput } from '../config/apply-delta.js';
import { snapshotSteps, type ApplyResult, type ConfigTarget } from '../config/apply-snapshot.js';
import { ConfigOrigin, type RuntimeConfig } from '../config/runtime-config.js';
import { AckError, ConfigRejectedError, SyncProtocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { APPLY_SLICE_MS, runStepsSliced, StepsCancelledError, type Steps } from '../steps.js';
import type { StreamFrame } from './stream-connection.js';

/** A change the client applied: what the data plane must swap in (and may forward to proxy workers). */
export type AppliedChange =
  | { readonly kind: 'snapshot'; readonly target: ConfigTarget; readonly batch: InstanceType<typeof pb.ResourceBatch> }
  | { readonly kind: 'delta'; readonly delta: DeltaInput };

/** A push being applied: its nonce, kind, and since when (ms since the Unix epoch). */
export interface PushInFlight {
  readonly nonce: number;
  readonly kind: AppliedChange['kind'];
  readonly sinceMs: number;
}

/** The frames that make up pushes: a delta, or a snapshot's begin, chunks and end. */
export type PushFrame = StreamFrame & { msg: 'delta' | 'snapshotBegin' | 'snapshotChunk' | 'snapshotEnd' };

/** Whether a frame belongs to a push. */
export function isPushFrame(frame: StreamFrame): frame is PushFrame {
  return frame.msg === 'delta' || frame.msg === 'snapshotBegin' || frame.msg === 'snapshotChunk' || frame.msg === 'snapshotEnd';
}

/** The state a data plane reports in Hello, Heartbeat and Ack: the config it serves, or the empty state (epoch ""). */
export function appliedState(config: RuntimeConfig | null): ConfigStateMessage {
  return config ? config.state() : { epoch: '', version: 0, hash: new Uint8Array(0) };
}

/** Options of `PushPipeline`: the config's owner and the apply's tuning. */
export interface PushPipelineOptions {
  /** The config served now (deltas apply to it; a NACK reports it). */
  readonly getConfig: () => RuntimeConfig | null;
  /** Swaps in an applied config, before the ACK; synchronous (one reference assignment). */
  readonly commit: (config: RuntimeConfig, change: AppliedChange) => void;
  /** Longest slice of work an apply runs before the event loop gets a turn, in ms (default `APPLY_SLICE_MS`, 10). */
  readonly applySliceMs?: number;
  /** The clock, ms since the Unix epoch. */
  readonly now: () => number;
  readonly logger: Logger;
  /** The plugins this data plane runs (`ApplyOptions.plugins`; a snapshot naming another is refused). */
  readonly plugins?: PluginRuntime;
}

/** What a push pipeline needs from the connection it runs on, and where it reports (the sync client's last error and events). */
export interface PushPipelineHost {
  /** Sends a frame on the connection (dropped once it is not open). */
  send(envelope: EnvelopeProperties): void;
  /** Whether the connection is still the live one: a push on a closed or closing connection is abandoned. */
  isLive(): boolean;
  /** Closes the connection for a frame that breaks the protocol. */
  protocolFailure(error: SyncProtocolError): void;
  /** Records the last error (shown by `/status`). */
  recordError(code: string, message: string): void;
  /** A push arrived whole; its check and build start (in slices; the current config serves meanwhile). */
  applying(info: { nonce: number; kind: AppliedChange['kind'] }): void;
  /** A push was committed and ACKed. */
  applied(info: { config: RuntimeConfig; change: AppliedChange; nonce: number }): void;
  /** A push was refused and NACKed; the serving config is unchanged. */
  rejected(info: { error: ConfigRejectedError; nonce: number }): void;
}

/**
 * The pushes of one connection (docs/protocol.md, "Pushes"): assembles a snapshot's chunks
 * (`SnapshotAssembler`, sizes checked before allocating), inflates a snapshot's body on the thread
 * pool, checks and builds either push in slices (`runStepsSliced`) while the current config keeps
 * serving, then commits and ACKs it, or NACKs it. One push is in flight at a time: a delta or
 * snapshot that arrives before the previous one is answered breaks the protocol. A push whose
 * connection closes meanwhile is abandoned at the next slice, never committed nor answered.
 */
export class PushPipeline {
  private readonly options: PushPipelineOptions;
  private readonly host: PushPipelineHost;
  private assembler: SnapshotAssembler | null = null;
  /** The nonce of a snapshot refused at SnapshotBegin (too large): its chunks are skipped, not buffered. */
  private skippedNonce: number | null = null;
  /** The push being applied (inflated, then checked and built in slices), or null. */
  private applyingValue: PushInFlight | null = null;
  private lastFrame = 0;
  private lastApplyEnd = 0;

  constructor(options: PushPipelineOptions, host: PushPipelineHost) {
    this.options = options;
    this.host = host;
  }

  /** The push being applied now, or null. */
  get applying(): PushInFlight | null {
    return this.applyingValue;
  }

  /** The nonce of the push being received or applied, 0 when none (reported in heartbeats). */
  get inFlightNonce(): number {
    return this.assembler?.nonce ?? this.applyingValue?.nonce ?? 0;
  }

  /** Whether no push is being received or applied. */
  get isIdle(): boolean {
    return !this.assembler && this.applyingValue === null;
  }

  /** When the last push frame was taken, in ms since the Unix epoch (0 before any). */
  get lastFrameMs(): number {
    return this.lastFrame;
  }

  /**
   * When an apply last finished its build, in ms since the Unix epoch (0 before any): its last
   * slice held the event loop, so silence from the peer until then was ours.
   */
  get lastApplyEndMs(): number {
    return this.lastApplyEnd;
  }

  /** Takes one push frame. */
  take(frame: PushFrame): void {
    if (this.applyingValue !== null && (frame.msg === 'delta' || frame.msg === 'snapshotBegin')) {
      // One push in flight (docs/protocol.md): the next one waits for this one's Ack.
      this.host.protocolFailure(new SyncProtocolError(`${frame.msg} while push ${this.applyingValue.nonce} is being applied`, CloseCode.PROTOCOL_ERROR));
      return;
    }
    this.lastFrame = this.options.now();
    switch (frame.msg) {
      case 'delta':
        return this.onDelta(frame.delta!);
      case 'snapshotBegin':
        return this.onSnapshotBegin(frame.snapshotBegin!);
      case 'snapshotChunk':
        return this.onSnapshotChunk(frame.snapshotChunk!);
      case 'snapshotEnd':
        return this.onSnapshotEnd(Number(frame.snapshotEnd!.nonce ?? 0));
    }
  }

  private onDelta(delta: ConfigDeltaMessage): void {
    const nonce = Number(delta.nonce ?? 0);
    const version = Number(delta.toVersion ?? 0);
    const batch = this.unpack(nonce, version, delta.body ?? null);
    if (!batch) return;
    const input: DeltaInput = {
      epoch: delta.epoch ?? '',
      fromVersion: Number(delta.fromVersion ?? 0),
      toVersion: version,
      targetHash: delta.targetHash ?? new Uint8Array(0),
      batch,
    };
    this.apply(nonce, deltaSteps(this.options.getConfig(), input, { source: ConfigOrigin.CONTROL_PLANE, now: this.options.now, plugins: this.options.plugins }), { kind: 'delta', delta: input });
  }

  private onSnapshotBegin(begin: SnapshotBeginMessage): void {
    if (this.assembler) {
      this.host.protocolFailure(new SyncProtocolError('SnapshotBegin while another snapshot is in flight', CloseCode.PROTOCOL_ERROR));
      return;
    }
    try {
      this.assembler = new SnapshotAssembler(begin);
    } catch (err) {
      const e = err as ProtocolError;
      if (e.code === ProtocolErrorCode.BLOB_TOO_LARGE) {
        // Refuse without buffering; the chunks that follow are skipped (no assembler for their nonce).
        this.assembler = null;
        this.nack(Number(begin.nonce ?? 0), new ConfigRejectedError(AckError.ERROR_TOO_LARGE, e.message, { rejectedVersion: Number(begin.target?.version ?? 0) }));
        this.skippedNonce = Number(begin.nonce ?? 0);
        return;
      }
      this.host.protocolFailure(new SyncProtocolError(e.message, CloseCode.PROTOCOL_ERROR, { cause: err }));
    }
  }

  private onSnapshotChunk(chunk: SnapshotChunkMessage): void {
    if (!this.assembler) {
      if (this.skippedNonce === Number(chunk.nonce ?? 0)) return;
      this.host.protocolFailure(new SyncProtocolError('SnapshotChunk without SnapshotBegin', CloseCode.PROTOCOL_ERROR));
      return;
    }
    try {
      this.assembler.add(chunk);
    } catch (err) {
      this.host.protocolFailure(new SyncProtocolError((err as Error).message, CloseCode.PROTOCOL_ERROR, { cause: err }));
    }
  }

  private onSnapshotEnd(nonce: number): void {
    const assembler = this.assembler;
    this.assembler = null;
    if (!assembler) {
      if (this.skippedNonce === nonce) {
        this.skippedNonce = null;
        return;
      }
      this.host.protocolFailure(new SyncProtocolError('SnapshotEnd without SnapshotBegin', CloseCode.PROTOCOL_ERROR));
      return;
    }
    let body: PackedBody;
    try {
      body = assembler.finish(nonce);
    } catch (err) {
      this.host.protocolFailure(new SyncProtocolError((err as Error).message, CloseCode.PROTOCOL_ERROR, { cause: err }));
      return;
    }
    const target = assembler.begin.target;
    const t: ConfigTarget = { epoch: target?.epoch ?? '', version: Number(target?.version ?? 0), hash: target?.hash ?? new Uint8Array(0) };
    // The push is in flight from here: inflated on the thread pool, then checked and built in slices.
    this.applyingValue = { nonce, kind: 'snapshot', sinceMs: this.options.now() };
    unpackBatchAsync(body).then(
      (batch) => {
        if (this.host.isLive()) this.applySnapshotBatch(nonce, t, batch);
        else this.endPush();
      },
      (err: unknown) => {
        if (this.endPush()) this.nack(nonce, unpackRefusal(err, t.version));
      },
    );
  }

  /** Ends the push in flight; true when its outcome is to be sent, false when it was abandoned. */
  private endPush(): boolean {
    const push = this.applyingValue;
    this.applyingValue = null;
    if (this.host.isLive()) return true;
    if (push !== null) this.options.logger.info({ nonce: push.nonce, kind: push.kind }, 'connection closed while a push was applied; dropped it');
    return false;
  }

  private applySnapshotBatch(nonce: number, t: ConfigTarget, batch: InstanceType<typeof pb.ResourceBatch>): void {
    const current = this.options.getConfig();
    if (current && current.epoch === t.epoch && current.version === t.version && hashEquals(current.hashBytes, t.hash)) {
      // The snapshot is exactly what is served (e.g. a resync that crossed an apply): nothing to build.
      this.applyingValue = null;
      this.host.send({ ack: { nonce, applied: current.state(), error: AckError.ERROR_NONE, rejectedVersion: 0 } });
      return;
    }
    this.apply(nonce, snapshotSteps(batch, t, { current, source: ConfigOrigin.CONTROL_PLANE, now: this.options.now, plugins: this.options.plugins }), { kind: 'snapshot', target: t, batch });
  }

  /** Decompresses and decodes a push body; NACKs (ERROR_TOO_LARGE / ERROR_DECODE) and returns null when it cannot. */
  private unpack(nonce: number, version: number, body: PackedBody | BlobMessage | null): InstanceType<typeof pb.ResourceBatch> | null {
    if (!body) {
      this.nack(nonce, new ConfigRejectedError(AckError.ERROR_DECODE, 'push without a body', { rejectedVersion: version }));
      return null;
    }
    try {
      return unpackBatch(packedBody(body));
    } catch (err) {
      this.nack(nonce, unpackRefusal(err, version));
      return null;
    }
  }

  /**
   * Checks and builds a push in slices (the serving config keeps proxying between them), then
   * commits and ACKs it, or NACKs it. A push whose connection closes meanwhile is abandoned
   * between two slices: its control plane will push again on the next connection.
   */
  private apply(nonce: number, steps: Steps<ApplyResult>, change: AppliedChange): void {
    // A snapshot's push has been in flight since it was whole (its inflate came first).
    this.applyingValue = this.applyingValue?.nonce === nonce ? this.applyingValue : { nonce, kind: change.kind, sinceMs: this.options.now() };
    this.host.applying({ nonce, kind: change.kind });
    runStepsSliced(steps, { sliceMs: this.options.applySliceMs ?? APPLY_SLICE_MS, isCancelled: () => !this.host.isLive() }).then(
      (result) => {
        if (this.endPush()) this.finish(nonce, result, change);
      },
      (err: unknown) => {
        // StepsCancelledError is only thrown for a connection no longer live: endPush logs it.
        if (!this.endPush() || err instanceof StepsCancelledError) return;
        // Not a refusal the checks produce (those are results): a defect. NACK it, keep serving.
        const version = change.kind === 'delta' ? change.delta.toVersion : change.target.version;
        this.nack(nonce, new ConfigRejectedError(AckError.ERROR_INTERNAL, `apply failed: ${(err as Error).message}`, { rejectedVersion: version, cause: err }));
      },
    );
  }

  private finish(nonce: number, result: ApplyResult, change: AppliedChange): void {
    this.lastApplyEnd = this.options.now();
    if (!result.ok) {
      this.nack(nonce, result.error);
      return;
    }
    try {
      this.options.commit(result.config, change);
    } catch (err) {
      this.nack(nonce, new ConfigRejectedError(AckError.ERROR_INTERNAL, `commit failed: ${(err as Error).message}`, { rejectedVersion: result.config.version, cause: err }));
      return;
    }
    this.host.send({ ack: { nonce, applied: result.config.state(), error: AckError.ERROR_NONE, rejectedVersion: 0 } });
    this.options.logger.info({ epoch: result.config.epoch, version: result.config.version, kind: change.kind, nonce }, 'config applied');
    this.host.applied({ config: result.config, change, nonce });
  }

  private nack(nonce: number, error: ConfigRejectedError): void {
    this.host.recordError(error.code, error.message);
    this.options.logger.warn({ err: error, ackError: error.ackError, rejectedVersion: error.rejectedVersion, resourceErrors: error.resourceErrors.length }, 'config refused; keeping the last good config');
    this.host.send({
      ack: {
        nonce,
        applied: appliedState(this.options.getConfig()),
        error: error.ackError,
        message: error.message,
        resourceErrors: error.resourceErrors.map((e) => ({ key: { type: e.type, id: e.id }, code: e.code, message: e.message })),
        rejectedVersion: error.rejectedVersion,
      },
    });
    this.host.rejected({ error, nonce });
  }
}

/** A push body as `unpackBatch` takes it (absent protobuf fields as their defaults). */
function packedBody(body: PackedBody | BlobMessage): PackedBody {
  return { codec: body.codec ?? 0, rawSize: Number(body.rawSize ?? 0), rawSha256: body.rawSha256 ?? new Uint8Array(0), data: body.data ?? new Uint8Array(0) };
}

/** The NACK for a body that does not unpack: too large, or undecodable (codec, checksum, protobuf). */
function unpackRefusal(err: unknown, version: number): ConfigRejectedError {
  const e = err as ProtocolError;
  const ackError = e.code === ProtocolErrorCode.BLOB_TOO_LARGE ? AckError.ERROR_TOO_LARGE : AckError.ERROR_DECODE;
  return new ConfigRejectedError(ackError, e.message, { rejectedVersion: version, cause: err });
}

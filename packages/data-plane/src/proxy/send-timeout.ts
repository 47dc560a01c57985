/** What a {@link SendTimeout} watches: a writable's queued byte count. */
export interface QueuedWritable {
  /** Bytes written but not yet taken by the kernel (Node's `writableLength`). */
  readonly writableLength: number;
}

/** The libuv handle of a socket (or of a response's socket), as far as the probe below reads it. */
interface HandleHolder {
  readonly _handle?: { readonly writeQueueSize?: unknown } | null;
  readonly socket?: { readonly _handle?: { readonly writeQueueSize?: unknown } | null } | null;
}

/**
 * Bytes of the in-flight write request the kernel has not taken yet (libuv's write queue size), or
 * -1 when the side has no such handle. `writableLength` only drops when a whole write request
 * completes, and Node hands everything buffered to libuv as one request: a slow reader can take
 * bytes for a long time without it moving. libuv's count moves with every partial write. Not a
 * public API (read defensively; the fallback is `writableLength` alone).
 */
function kernelPendingBytes(side: QueuedWritable): number {
  const holder = side as HandleHolder;
  const size = (holder.socket?._handle ?? holder._handle)?.writeQueueSize;
  return typeof size === 'number' ? size : -1;
}

/**
 * nginx's `send_timeout` (and `proxy_send_timeout`) on one writable side: a write that the side
 * refused (its buffer is full) arms it, and when `timeoutMs` passes with nothing of the queued
 * data taken by the peer, `onExpire` ends the connection. Progress re-arms it (a slow reader is not
 * a stalled one); a drain disarms it. Created on the first refused write, so a connection that
 * never backs up costs nothing.
 */
export class SendTimeout {
  private timer: NodeJS.Timeout | null = null;
  /** Bytes written since the last (re-)arming. */
  private writtenSinceArm = 0;
  /** Queued bytes at the last (re-)arming. */
  private queuedAtArm = 0;
  /** {@link kernelPendingBytes} at the last (re-)arming. */
  private kernelPendingAtArm = -1;

  constructor(
    private readonly side: QueuedWritable,
    private readonly timeoutMs: number,
    private readonly onExpire: () => void,
  ) {}

  /** Whether the timer is running (a write was refused and no drain came since). */
  get isArmed(): boolean {
    return this.timer !== null;
  }

  /** Notes a write of `bytes`; `accepted` false (buffer full) arms the timer if it is not running. */
  wrote(bytes: number, accepted: boolean): void {
    if (this.timer !== null) {
      this.writtenSinceArm += bytes;
      return;
    }
    if (accepted) return;
    this.arm();
  }

  /** The side drained: nothing is queued, the timer stops. */
  drained(): void {
    this.stop();
  }

  /** Stops the timer for good (the connection ended). */
  stop(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private arm(): void {
    this.writtenSinceArm = 0;
    this.queuedAtArm = this.side.writableLength;
    this.kernelPendingAtArm = kernelPendingBytes(this.side);
    this.timer = setTimeout(onTimer, this.timeoutMs, this);
    this.timer.unref();
  }

  /** @internal the timer fired: re-arm if the peer took anything since, else expire. */
  check(): void {
    this.timer = null;
    // Nothing queued any more (a drain we were not told of): idle, not stalled.
    if (this.side.writableLength === 0) return;
    const taken = this.queuedAtArm + this.writtenSinceArm - this.side.writableLength;
    // libuv's pending count changes only when the kernel took bytes (or a request completed and the
    // next began, which writableLength shows too).
    const kernelPending = kernelPendingBytes(this.side);
    const hasKernelProgress = kernelPending !== -1 && kernelPending !== this.kernelPendingAtArm;
    if (taken > 0 || hasKernelProgress) {
      this.arm();
      return;
    }
    this.onExpire();
  }
}

function onTimer(timeout: SendTimeout): void {
  timeout.check();
}

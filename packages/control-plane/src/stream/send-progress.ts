/** The part of Node's socket internals that says how much of its writes the kernel has not taken yet. */
interface SocketInternals {
  _handle?: { writeQueueSize?: unknown; _parent?: { writeQueueSize?: unknown } } | null;
}

/**
 * Bytes of a socket's pending writes that the kernel has not accepted yet, from libuv's write
 * queue (under TLS, the queue of the TCP handle beneath), or null where the handle does not
 * expose it. Node shrinks `writableLength`, and so ws's `bufferedAmount`, only when a whole write
 * has completed; libuv's queue shrinks with every partial write, so a peer that reads a 1 MiB
 * frame slowly shows progress before the frame is done. Internals, hence the null fallback:
 * callers must also count whole writes as progress.
 */
export function unwrittenBytes(socket: unknown): number | null {
  const handle = (socket as SocketInternals | null)?._handle;
  const size = handle?._parent?.writeQueueSize ?? handle?.writeQueueSize;
  return typeof size === 'number' ? size : null;
}

/** What {@link watchSendProgress} reads: a ws WebSocket's queue and its socket. */
export interface ProgressSource {
  readonly bufferedAmount: number;
  /** When the last frame finished writing (epoch ms). */
  lastWriteDoneAt(): number;
  /** The TCP or TLS socket under the WebSocket, for {@link unwrittenBytes}. */
  readonly socket: unknown;
}

/**
 * Calls `onStall` once if a send makes no progress for `timeoutMs`: no frame finishing writing,
 * the queue not shrinking (down to the kernel taking part of a frame), while something is queued.
 * Checked every quarter of the timeout (10..250 ms). Returns the function that stops watching.
 */
export function watchSendProgress(source: ProgressSource, timeoutMs: number, onStall: (info: { bufferedBytes: number; stalledMs: number }) => void): () => void {
  let progressAt = Date.now();
  let lastBuffered = source.bufferedAmount;
  let lastUnwritten = unwrittenBytes(source.socket);
  let lastWriteDoneAt = source.lastWriteDoneAt();
  const timer = setInterval(
    () => {
      const now = Date.now();
      const buffered = source.bufferedAmount;
      const unwritten = unwrittenBytes(source.socket);
      const writeDoneAt = source.lastWriteDoneAt();
      const hasMoved = writeDoneAt !== lastWriteDoneAt || buffered < lastBuffered || (unwritten !== null && lastUnwritten !== null && unwritten < lastUnwritten);
      if (buffered === 0 || hasMoved) progressAt = now;
      lastBuffered = buffered;
      lastUnwritten = unwritten;
      lastWriteDoneAt = writeDoneAt;
      if (now - progressAt < timeoutMs) return;
      clearInterval(timer);
      onStall({ bufferedBytes: buffered, stalledMs: now - progressAt });
    },
    Math.max(10, Math.min(250, Math.floor(timeoutMs / 4))),
  );
  timer.unref();
  return () => clearInterval(timer);
}

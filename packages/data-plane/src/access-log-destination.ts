import { openSync } from 'node:fs';
import pino from 'pino';
import type { Logger } from './logger.js';
import type { AccessLogSink } from './plugins/access-log/access-log-sink.js';

/** Bytes of access-log lines queued in memory before further lines are dropped (per process). */
export const ACCESS_LOG_BUFFER_BYTES = 8 * 1024 * 1024;
/** Bytes gathered before a write to the destination is started (sonic-boom wants it below the most per write). */
export const ACCESS_LOG_MIN_WRITE_BYTES = 2048;
/**
 * Most bytes per `write(2)`: Linux's PIPE_BUF, so a batch of whole lines written to a pipe shared
 * by several workers (stdout) lands in one piece, not interleaved with another worker's.
 */
export const ACCESS_LOG_MAX_WRITE_BYTES = 4096;
/** Most time lines may wait for {@link ACCESS_LOG_MIN_WRITE_BYTES} before they are written anyway, ms. */
export const ACCESS_LOG_FLUSH_INTERVAL_MS = 1000;
/** Most time `flush()` waits for the queued lines to be written, ms. */
export const ACCESS_LOG_FLUSH_TIMEOUT_MS = 5000;

/** The sonic-boom calls used (pino's `destination()` returns one). */
type SonicBoomLike = ReturnType<typeof pino.destination>;

/**
 * The CLI's access log: an async, buffered writer (pino's bundled sonic-boom) to stdout or a file
 * opened for append. Its queue is bounded by {@link ACCESS_LOG_BUFFER_BYTES}: when the destination
 * cannot keep up, new lines are dropped and counted ({@link droppedLines}), memory does not grow.
 * Several processes (`--workers`) may share the target: each `write(2)` carries whole lines (a
 * line longer than {@link ACCESS_LOG_MAX_WRITE_BYTES} alone) and is at most that size, atomic on a
 * pipe and appended whole on an `O_APPEND` file, so lines do not interleave.
 */
export class AccessLogDestination implements AccessLogSink {
  /** Lines dropped because the queue was full. */
  droppedLines = 0;
  private readonly stream: SonicBoomLike;

  private constructor(
    fd: number,
    private readonly logger: Logger,
  ) {
    this.stream = pino.destination({
      dest: fd,
      sync: false,
      minLength: ACCESS_LOG_MIN_WRITE_BYTES,
      maxLength: ACCESS_LOG_BUFFER_BYTES,
      maxWrite: ACCESS_LOG_MAX_WRITE_BYTES,
      periodicFlush: ACCESS_LOG_FLUSH_INTERVAL_MS,
    });
    this.stream.on('drop', () => {
      if (this.droppedLines++ === 0) logger.warn({ bufferBytes: ACCESS_LOG_BUFFER_BYTES }, 'access log cannot keep up: lines dropped');
    });
    this.stream.on('error', (err: Error) => logger.error({ err }, 'access log write failed'));
  }

  /**
   * Opens `stdout` or a file path (created if missing, appended to). Throws when the file cannot be
   * opened, so a bad path fails at start.
   */
  static open(target: string, logger: Logger): AccessLogDestination {
    const fd = target === 'stdout' ? 1 : openSync(target, 'a');
    return new AccessLogDestination(fd, logger);
  }

  write(line: string): void {
    this.stream.write(line);
  }

  /** Writes what is queued; resolves when done or after {@link ACCESS_LOG_FLUSH_TIMEOUT_MS}. Logs the drop count. */
  flush(): Promise<void> {
    if (this.droppedLines > 0) this.logger.warn({ droppedLines: this.droppedLines }, 'access log lines dropped since start');
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ACCESS_LOG_FLUSH_TIMEOUT_MS);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      try {
        // The callback also reports fsync's error on a pipe or tty (EINVAL): the data is written either way.
        this.stream.flush(() => done());
      } catch {
        done();
      }
    });
  }
}

/**
 * What the statements of the current async context must respect, carried by `AsyncLocalStorage`
 * so that every layer between an HTTP request and the pool (the Admin API's operations, the
 * store's write, Kysely) need not pass it along:
 *
 * - the cancellation of the request that started the work (`runCancellable`, set by the Admin API
 *   around each handler): a write whose client went away is rolled back;
 * - the deadline of the write in progress (`runWithDeadline`, set by `Store.write`): every
 *   statement of its transaction, COMMIT included, must be answered by then.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The bounds of one write transaction. */
export interface WriteBounds {
  /** When the write must have committed, in ms since the Unix epoch (client clock). */
  readonly deadlineMs: number;
  /** Aborted when the write's client has gone. */
  readonly signal?: AbortSignal;
}

const cancellation = new AsyncLocalStorage<AbortSignal>();
const writeBounds = new AsyncLocalStorage<WriteBounds>();

/** Runs `fn` with `signal` as the cancellation of the writes it starts. */
export function runCancellable<T>(signal: AbortSignal, fn: () => T): T {
  return cancellation.run(signal, fn);
}

/** The cancellation of the current context (the request's), if any. */
export function currentCancellation(): AbortSignal | undefined {
  return cancellation.getStore();
}

/** Runs `fn` (one write transaction) within `bounds`. */
export function runWithWriteBounds<T>(bounds: WriteBounds, fn: () => Promise<T>): Promise<T> {
  return writeBounds.run(bounds, fn);
}

/** The bounds of the write in progress in this context, if any. */
export function currentWriteBounds(): WriteBounds | undefined {
  return writeBounds.getStore();
}

/**
 * Runs `fn` outside every context above: for background work (a health probe) that a write may
 * happen to start, and that must not inherit its deadline or its client's cancellation.
 */
export function outsideStatementContexts<T>(fn: () => T): T {
  return writeBounds.exit(() => cancellation.exit(fn));
}

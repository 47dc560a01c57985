import { setImmediate as nextTurn } from 'node:timers/promises';
import { DataPlaneErrorCode } from './errors.js';

/**
 * CPU-bound work written as a generator that `yield`s at points where it may be paused (between
 * two entities, two route compilations, two trie updates) and returns its result. The same code
 * runs to completion in one go ({@link runSteps}: startup, tests) or in slices that give the event
 * loop back between them ({@link runStepsSliced}: a serving data plane, so that building a 10,000
 * route config does not stop the proxy for the whole build).
 */
export type Steps<T> = Generator<void, T, void>;

/** How long a slice of config work may hold the event loop before yielding, in ms (default 10). */
export const APPLY_SLICE_MS = 10;

/** The work was abandoned between two slices (its `isCancelled` said so). */
export class StepsCancelledError extends Error {
  override readonly name = 'StepsCancelledError';
  readonly code = DataPlaneErrorCode.APPLY_ABANDONED;
}

/** Runs `steps` to the end, synchronously. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

export interface SliceOptions {
  /** Longest a slice may run before the event loop gets a turn, in ms (default {@link APPLY_SLICE_MS}). */
  readonly sliceMs?: number;
  /** Asked between slices; true abandons the work (the promise rejects with {@link StepsCancelledError}). */
  readonly isCancelled?: () => boolean;
}

/**
 * Runs `steps` in slices of at most `sliceMs` of work (plus one step: a step is the unit that cannot
 * be cut), letting the event loop run I/O and timers between slices. Work that fits in one slice
 * completes without waiting for a turn of the loop. Rejects with what the steps throw.
 */
export async function runStepsSliced<T>(steps: Steps<T>, options: SliceOptions = {}): Promise<T> {
  const sliceMs = options.sliceMs ?? APPLY_SLICE_MS;
  try {
    for (;;) {
      const deadline = performance.now() + sliceMs;
      do {
        const next = steps.next();
        if (next.done) return next.value;
      } while (performance.now() < deadline);
      await nextTurn();
      if (options.isCancelled?.() === true) throw new StepsCancelledError('config work abandoned');
    }
  } finally {
    // Cancelled or thrown: let the generator's own finally blocks run.
    steps.return(undefined as T);
  }
}

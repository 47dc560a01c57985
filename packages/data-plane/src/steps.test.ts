import { describe, expect, it } from 'vitest';
import { runSteps, runStepsSliced, StepsCancelledError, type Steps } from './steps.js';

/** `count` steps of about `stepMs` of busy work each; returns the number of steps run. */
function* busy(count: number, stepMs: number, log: string[] = []): Steps<number> {
  try {
    for (let i = 0; i < count; i++) {
      const until = performance.now() + stepMs;
      while (performance.now() < until);
      log.push(`step ${i}`);
      yield;
    }
    return count;
  } finally {
    log.push('finally');
  }
}

describe('steps', () => {
  it('runSteps runs every step and returns the result', () => {
    expect(runSteps(busy(5, 0))).toBe(5);
  });

  it('runStepsSliced gives the event loop a turn between slices, without reordering the work', async () => {
    const log: string[] = [];
    const done = runStepsSliced(busy(6, 2, log), { sliceMs: 3 });
    // The first slice ran synchronously, and stopped when its 3 ms were used.
    expect(log.length).toBeGreaterThanOrEqual(1);
    expect(log.length).toBeLessThan(6);
    setImmediate(() => log.push('event loop'));
    expect(await done).toBe(6);
    const turn = log.indexOf('event loop');
    expect(turn).toBeGreaterThan(0);
    expect(turn).toBeLessThan(log.indexOf('step 5'));
    expect(log.filter((l) => l.startsWith('step'))).toEqual(['step 0', 'step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
  });

  it('work that fits in one slice completes without waiting for the event loop', async () => {
    let turned = false;
    setImmediate(() => (turned = true));
    expect(await runStepsSliced(busy(3, 0), { sliceMs: 50 })).toBe(3);
    expect(turned).toBe(false);
  });

  it('is abandoned between slices when cancelled, running the work’s finally blocks', async () => {
    const log: string[] = [];
    let cancelled = false;
    const done = runStepsSliced(busy(100, 2, log), { sliceMs: 1, isCancelled: () => cancelled });
    cancelled = true;
    await expect(done).rejects.toBeInstanceOf(StepsCancelledError);
    expect(log).toEqual(['step 0', 'finally']);
  });

  it('rejects with what a step throws', async () => {
    function* failing(): Steps<number> {
      yield;
      throw new Error('bad route');
    }
    await expect(runStepsSliced(failing(), { sliceMs: 0 })).rejects.toThrow('bad route');
  });
});

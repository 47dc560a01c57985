// How long the event loop is held, for the benchmarks that apply or write large configs.

/**
 * Starts a 1 ms interval timer: the longest gap between two of its ticks is the longest the loop
 * was held while it ran.
 * @returns `ticks` (so far), `reset()` (forget the gaps so far), and `stop()`, which waits for one
 *   more tick (so the gap the last hold made is counted), stops the timer and resolves with the
 *   longest gap in ms.
 */
export function watchLoop() {
  let ticks = 0;
  let last = performance.now();
  let longestMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    ticks++;
  }, 1);
  return {
    get ticks() {
      return ticks;
    },
    reset() {
      longestMs = 0;
    },
    async stop() {
      const seen = ticks;
      while (ticks === seen) await new Promise((resolve) => setImmediate(resolve));
      clearInterval(timer);
      return longestMs;
    },
  };
}

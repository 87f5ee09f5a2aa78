/**
 * Time as a lane sees it: the current time, one-shot timers and the jitter of its backoff.
 * The router uses the real clock; tests drive a manual one to step through batching waits,
 * backoff, Retry-After and the circuit without sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. `unref`: does not keep the process alive. */
  timer(fn: () => void, ms: number, options?: { unref?: boolean }): () => void;
  /** A number in [0, 1), for backoff jitter. */
  random(): number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  timer(fn, ms, options) {
    const t = setTimeout(fn, ms);
    if (options?.unref) t.unref();
    return () => clearTimeout(t);
  },
  random: () => Math.random(),
};

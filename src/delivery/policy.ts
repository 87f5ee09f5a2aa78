/** The shared delivery policies every lane applies: backoff, rate limit, circuit breaker. */

/** Exponential backoff with full jitter: a uniform wait in [0, min(max, initial·2^attempt)). */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Token bucket: `perSecond` tokens a second, at most `burst` saved up. perSecond 0 = unlimited. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes a token if one is available and returns 0; else returns the ms until one is. */
  take(): number {
    if (this.perSecond <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.perSecond) / 1000);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}

export type CircuitState = "closed" | "open" | "half_open";

/**
 * Opens after `threshold` consecutive failures; after `openMs` lets one probe through
 * (half-open); the probe's success closes it, its failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  state: CircuitState = "closed";

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

  /** 0 when a send may start now (taking the probe slot when half-open), else ms to wait. */
  acquire(): number {
    if (this.state === "closed") return 0;
    if (this.state === "open") {
      const left = this.openedAt + this.openMs - this.now();
      if (left > 0) return left;
      this.set("half_open");
    }
    if (this.probing) return Math.min(this.openMs, 250);
    this.probing = true;
    return 0;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.state !== "closed") this.set("closed");
  }

  failure(): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || (this.state === "closed" && this.failures >= this.threshold)) {
      this.openedAt = this.now();
      this.set("open");
    }
  }

  /** A send that ended without a verdict on the service (aborted at shutdown). */
  release(): void {
    this.probing = false;
  }

  private set(state: CircuitState): void {
    this.state = state;
    this.onChange(state);
  }
}

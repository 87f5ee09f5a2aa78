import { describe, expect, it } from "vitest";
import { backoffMs, CircuitBreaker, TokenBucket } from "../../src/delivery/policy.js";

describe("backoffMs (exponential, full jitter)", () => {
  it("stays within [0, min(max, initial·2^attempt))", () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(60_000, 500 * 2 ** attempt);
      expect(backoffMs(attempt, 500, 60_000, () => 0)).toBe(0);
      expect(backoffMs(attempt, 500, 60_000, () => 0.999999)).toBe(Math.floor(0.999999 * ceiling));
    }
  });
  it("caps huge attempt numbers at max", () => {
    expect(backoffMs(10_000, 500, 60_000, () => 0.5)).toBe(30_000);
  });
});

describe("TokenBucket", () => {
  it("allows a burst, then one token per 1/rate seconds", () => {
    let now = 0;
    const b = new TokenBucket(2, 3, () => now);
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 0]);
    expect(b.take()).toBe(500);
    now = 499;
    expect(b.take()).toBeGreaterThan(0);
    now = 1000;
    expect(b.take()).toBe(0);
  });
  it("is unlimited at rate 0", () => {
    const b = new TokenBucket(0, 1);
    for (let i = 0; i < 1000; i++) expect(b.take()).toBe(0);
  });
});

describe("CircuitBreaker", () => {
  it("opens after the threshold, lets one probe through when half-open, closes on success", () => {
    let now = 0;
    const states: string[] = [];
    const c = new CircuitBreaker(3, 1000, () => now, (s) => states.push(s));
    for (let i = 0; i < 3; i++) {
      expect(c.acquire()).toBe(0);
      c.failure();
    }
    expect(c.state).toBe("open");
    expect(c.acquire()).toBe(1000);
    now = 1000;
    expect(c.acquire()).toBe(0);
    expect(c.state).toBe("half_open");
    expect(c.acquire()).toBeGreaterThan(0); // only one probe at a time
    c.success();
    expect(c.state).toBe("closed");
    expect(states).toEqual(["open", "half_open", "closed"]);
  });
  it("a failed probe opens it again", () => {
    let now = 0;
    const c = new CircuitBreaker(1, 100, () => now);
    c.acquire();
    c.failure();
    now = 100;
    expect(c.acquire()).toBe(0);
    c.failure();
    expect(c.state).toBe("open");
    expect(c.acquire()).toBe(100);
  });
});

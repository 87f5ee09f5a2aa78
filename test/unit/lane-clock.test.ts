/**
 * The lane in process, on a manual clock: batching waits, partial results, the circuit's
 * open / half-open / closed cycle, dead-letter transitions and Retry-After, stepped through
 * in virtual time against a real journal. The output is a scripted Output (the lane's own
 * interface); the process-level tests cover real outputs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { Alert } from "../../src/alert.js";
import { parseOutput } from "../../src/config/index.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Clock } from "../../src/delivery/clock.js";
import { MAX_RETRY_AFTER_MS } from "../../src/delivery/http.js";
import { SqliteJournal } from "../../src/delivery/journal.js";
import { Lane } from "../../src/delivery/lane.js";
import type { Output, SendResult } from "../../src/delivery/output.js";
import { Metrics } from "../../src/metrics.js";
import { makeAlert } from "../harness/alerts.js";

/** Virtual time: timers fire only when the test advances the clock. */
class ManualClock implements Clock {
  t = Date.now();
  jitter = 0.999;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }
  timer(fn: () => void, ms: number): () => void {
    const entry = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(entry);
    return () => {
      entry.live = false;
    };
  }
  random(): number {
    return this.jitter;
  }

  /** Moves time forward, firing due timers in order and letting the lane react after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.timers = this.timers.filter((x) => x.live);
      let next: (typeof this.timers)[number] | undefined;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      next.live = false;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets promise chains and the journal's own I/O callbacks run; virtual time stays put. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Answers each send from a script (the last answer repeats); a `hold` answer waits for `release()`. */
class ScriptedOutput implements Output {
  readonly sends: string[][] = [];
  private held?: () => void;
  constructor(private readonly script: (SendResult | "hold")[]) {}

  async send(batch: readonly Alert[]): Promise<SendResult> {
    this.sends.push(batch.map((a) => a.rule));
    const answer = this.script.length > 1 ? this.script.shift()! : this.script[0]!;
    if (answer !== "hold") return answer;
    await new Promise<void>((r) => (this.held = r));
    return { kind: "ok" };
  }
  release(): void {
    this.held?.();
  }
  async close(): Promise<void> {}
}

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(lane: Record<string, unknown>, script: (SendResult | "hold")[]) {
  const dir = mkdtempSync(join(tmpdir(), "lane-clock-"));
  dirs.push(dir);
  const journal = new SqliteJournal({ dir, maxBytes: 1e9, fsync: false });
  const ctx = new ParseContext();
  const config = parseOutput({ name: "t", type: "webhook", url: "http://127.0.0.1:9/", ...lane }, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  const output = new ScriptedOutput(script);
  const clock = new ManualClock();
  const metrics = new Metrics();
  const l = new Lane(config!, output, journal, metrics, pino({ level: "silent" }), clock);
  journal.onCommit((byOutput) => l.offer(byOutput.get("t") ?? []));
  l.start();
  let n = 0;
  const send = async (count: number) => {
    const entries = await journal.append(Array.from({ length: count }, () => ({ alert: makeAlert(n, { rule: `a${n++}` }), outputs: ["t"] })));
    await settle();
    return entries;
  };
  cleanups.push(async () => {
    const stopping = l.stop(0);
    await clock.advance(1);
    await stopping;
    journal.close();
  });
  return { journal, output, clock, lane: l, send, metrics };
}

describe("Lane on a manual clock", () => {
  it("batching: a partial batch waits max_wait_ms, a full one goes at once, max_bytes cuts a batch", async () => {
    const { output, clock, send } = setup({ batch: { max_events: 3, max_wait_ms: 1000, max_bytes: 100_000 } }, [{ kind: "ok" }]);
    await send(2);
    await clock.advance(999);
    expect(output.sends).toEqual([]);
    await send(1);
    expect(output.sends).toEqual([["a0", "a1", "a2"]]);
    await send(1);
    await clock.advance(999);
    expect(output.sends).toHaveLength(1);
    await clock.advance(1);
    expect(output.sends).toEqual([["a0", "a1", "a2"], ["a3"]]);

    // max_bytes of two and a half alerts: five waiting alerts go as two, two, and the last one
    // waits max_wait_ms for company like any partial batch
    const oneAlert = Buffer.byteLength(JSON.stringify(makeAlert(0, { rule: "a0" })));
    const small = setup({ batch: { max_events: 10, max_wait_ms: 1000, max_bytes: Math.floor(2.5 * oneAlert) } }, [{ kind: "ok" }]);
    await small.send(5);
    expect(small.output.sends).toEqual([["a0", "a1"], ["a2", "a3"]]);
    await small.clock.advance(999);
    expect(small.output.sends).toHaveLength(2);
    await small.clock.advance(1);
    expect(small.output.sends).toEqual([["a0", "a1"], ["a2", "a3"], ["a4"]]);
  });

  it("partial: the delivered are acked, the rejected dead-lettered, the retried sent again alone after the backoff", async () => {
    const { output, clock, send, lane, journal } = setup({ batch: { max_events: 3, max_wait_ms: 0 }, retry: { initial_ms: 400, max_ms: 400 } }, [
      {
        kind: "partial",
        failed: [
          { index: 1, result: { kind: "reject", reason: "HTTP 400: bad alert", status: 400 } },
          { index: 2, result: { kind: "retry", reason: "HTTP 503", status: 503 } },
        ],
      },
      { kind: "ok" },
    ]);
    await send(3);
    expect(output.sends).toEqual([["a0", "a1", "a2"]]);
    expect(lane.status()).toMatchObject({ delivered: 1, dead_lettered: 1, failed_attempts: 2, state: "retrying", queue_depth: 1 });
    expect(journal.listDeadLetters({ output: "t" }).map((d) => [d.alert.rule, d.reason, d.status])).toEqual([["a1", "HTTP 400: bad alert", 400]]);
    // full jitter at 0.999 of 400 ms: 399 ms
    await clock.advance(398);
    expect(output.sends).toHaveLength(1);
    await clock.advance(1);
    expect(output.sends).toEqual([["a0", "a1", "a2"], ["a2"]]);
    expect(lane.status()).toMatchObject({ delivered: 2, dead_lettered: 1, state: "healthy", queue_depth: 0 });
  });

  it("circuit: opens after failure_threshold failures, lets one probe through after open_ms, reopens on its failure and closes on its success", async () => {
    const fail: SendResult = { kind: "retry", reason: "HTTP 503", status: 503 };
    const { output, clock, send, lane, metrics } = setup(
      { retry: { initial_ms: 100, max_ms: 100 }, circuit: { failure_threshold: 2, open_ms: 10_000 } },
      [fail, fail, fail, "hold"],
    );
    const gauge = async () => (await metrics.circuitState.get()).values.find((v) => v.labels.output === "t")?.value;
    await send(1);
    expect(output.sends).toHaveLength(1);
    expect(lane.status().state).toBe("retrying");
    await clock.advance(99);
    expect(output.sends).toHaveLength(2);
    expect(lane.status().state).toBe("circuit_open");
    expect(await gauge()).toBe(2);
    // open: nothing is sent until open_ms has passed since it opened
    await clock.advance(9_900);
    expect(output.sends).toHaveLength(2);
    await clock.advance(100);
    expect(output.sends).toHaveLength(3);
    // the probe failed: open again for open_ms
    expect(lane.status().state).toBe("circuit_open");
    await clock.advance(9_999);
    expect(output.sends).toHaveLength(3);
    await clock.advance(1);
    // the second probe is in flight (held): half-open
    expect(output.sends).toHaveLength(4);
    expect(lane.status().state).toBe("half_open");
    expect(await gauge()).toBe(1);
    output.release();
    await settle();
    expect(lane.status()).toMatchObject({ state: "healthy", delivered: 1, failed_attempts: 3 });
    expect(await gauge()).toBe(0);
  });

  it("a 429 with Retry-After is waited out exactly, does not count against the circuit, and is clamped", async () => {
    const { output, clock, send, lane } = setup({ retry: { initial_ms: 500, max_ms: 60_000 }, circuit: { failure_threshold: 1, open_ms: 600_000 } }, [
      { kind: "retry", reason: "HTTP 429", status: 429, retryAfterMs: 30_000 },
      { kind: "retry", reason: "HTTP 429", status: 429, retryAfterMs: 0 },
      { kind: "retry", reason: "HTTP 429", status: 429, retryAfterMs: 10 * MAX_RETRY_AFTER_MS },
      { kind: "ok" },
    ]);
    await send(1);
    expect(output.sends).toHaveLength(1);
    expect(lane.status().state).toBe("retrying");
    await clock.advance(29_999);
    expect(output.sends).toHaveLength(1);
    await clock.advance(1);
    expect(output.sends).toHaveLength(2);
    // Retry-After: 0 is not a tight loop: retry.initial_ms at least
    await clock.advance(499);
    expect(output.sends).toHaveLength(2);
    await clock.advance(1);
    expect(output.sends).toHaveLength(3);
    // ten hours asked: an hour at most
    await clock.advance(MAX_RETRY_AFTER_MS - 1);
    expect(output.sends).toHaveLength(3);
    await clock.advance(1);
    expect(output.sends).toHaveLength(4);
    expect(lane.status()).toMatchObject({ state: "healthy", delivered: 1, dead_lettered: 0 });
  });

  it("dead letters: a reject at once, retries after max_attempts, and a batch past max_age without another send; replayed ones are delivered", async () => {
    const { output, clock, send, lane, journal } = setup({ retry: { initial_ms: 100, max_ms: 100, max_attempts: 3 } }, [
      { kind: "reject", reason: "HTTP 403", status: 403 },
      { kind: "retry", reason: "HTTP 502", status: 502 },
    ]);
    await send(1);
    expect(lane.status()).toMatchObject({ dead_lettered: 1, state: "rejecting", queue_depth: 0 });
    await send(1);
    expect(output.sends).toHaveLength(2);
    await clock.advance(99);
    expect(output.sends).toHaveLength(3);
    expect(lane.status()).toMatchObject({ dead_lettered: 1, queue_depth: 1, state: "retrying" });
    await clock.advance(99);
    expect(output.sends).toHaveLength(4);
    expect(lane.status()).toMatchObject({ dead_lettered: 2, queue_depth: 0 });
    const dead = journal.listDeadLetters({ output: "t" }).map((d) => [d.alert.rule, d.reason, d.attempts, d.status]);
    expect(dead).toEqual(
      expect.arrayContaining([
        ["a0", "HTTP 403", 1, 403],
        ["a1", "gave up after 3 attempts: HTTP 502", 3, 502],
      ]),
    );

    // max_age: the batch waits out its backoff and is dead-lettered at its age, not sent again
    const aged = setup({ retry: { initial_ms: 60_000, max_ms: 60_000, max_age: 5_000 } }, [{ kind: "retry", reason: "HTTP 503", status: 503 }]);
    const [entry] = await aged.send(1);
    expect(aged.output.sends).toHaveLength(1);
    // the journal stamps acceptance with the wall clock, a little after the manual clock's start
    await aged.clock.advance(entry!.acceptedAt + 5_000 - aged.clock.now() - 1);
    expect(aged.lane.status()).toMatchObject({ dead_lettered: 0, queue_depth: 1 });
    await aged.clock.advance(1);
    expect(aged.output.sends).toHaveLength(1);
    expect(aged.lane.status()).toMatchObject({ dead_lettered: 1, queue_depth: 0 });
    expect(aged.journal.listDeadLetters({ output: "t" })[0]!.reason).toMatch(/^older than retry.max_age \(5000 ms\) after 1 attempt\(s\): HTTP 503$/);

    // replayed from the dead-letter store, they go out again (the output now takes them)
    const ok = setup({}, [{ kind: "reject", reason: "HTTP 400" }, { kind: "ok" }]);
    await ok.send(1);
    expect(ok.lane.status()).toMatchObject({ dead_lettered: 1, delivered: 0 });
    expect(ok.journal.replayDeadLetters({ output: "t" })).toBe(1);
    ok.lane.rescan();
    await ok.clock.advance(1);
    expect(ok.output.sends).toEqual([["a0"], ["a0"]]);
    expect(ok.lane.status()).toMatchObject({ delivered: 1, queue_depth: 0, state: "healthy" });
  });
});

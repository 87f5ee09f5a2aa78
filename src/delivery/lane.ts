import type { Logger } from "pino";
import type { OutputConfig } from "../config/index.js";
import { errorMessage } from "../errors.js";
import type { Metrics } from "../metrics.js";
import type { Journal, JournalEntry, DeadLetterInput } from "./journal.js";
import { MAX_RETRY_AFTER_MS } from "./http.js";
import type { Output, SendResult } from "./output.js";
import { backoffMs, CircuitBreaker, TokenBucket, type CircuitState } from "./policy.js";
import { realClock, type Clock } from "./clock.js";

/** Entries a lane keeps in memory; the rest waits in the journal and is read in pages. */
const MAX_IN_MEMORY = 5000;
const REFILL_PAGE = 1000;
/** How often an idle lane looks for entries written by another process (`peregrine dlq replay`). */
const IDLE_POLL_MS = 2000;
/** Node's timers hold at most 2^31-1 ms; a longer delay fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Consecutive refused sends after which an output shows as "rejecting" (at once if it never delivered). */
const REJECTING_AFTER = 3;

/**
 * "rejecting": the output answers, but refused the last sends permanently (every alert goes
 * to the dead-letter store), so it is not healthy although nothing is retried.
 */
export type LaneState = "healthy" | "retrying" | "rejecting" | "circuit_open" | "half_open" | "stopped";

export interface LaneStatus {
  name: string;
  type: string;
  state: LaneState;
  queue_depth: number;
  in_flight: number;
  delivered: number;
  failed_attempts: number;
  dead_lettered: number;
  last_error?: { reason: string; at: string };
}

/**
 * One output's delivery loop: journal-backed queue → batcher → rate limit → circuit →
 * send → retry with backoff / ack / dead letter. `concurrency` workers share the queue;
 * a batch being retried keeps its worker, so with concurrency 1 order is strict and
 * memory stays bounded however long the output is down.
 */
export class Lane {
  readonly name: string;
  readonly type: string;
  private readonly queue: JournalEntry[] = [];
  private queueHead = 0;
  private queueSince = 0;
  private cursor = 0;
  private backlog = true;
  private pendingTotal: number;
  private waiters: (() => void)[] = [];
  private draining = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private readonly bucket: TokenBucket;
  private readonly circuit: CircuitBreaker;
  private notBefore = 0;
  private inFlight = 0;
  private consecutiveFailures = 0;
  private consecutiveRejects = 0;
  private delivered = 0;
  private failedAttempts = 0;
  private deadLettered = 0;
  private lastError?: { reason: string; at: string };
  private cancelPoll?: () => void;
  private readonly labels: { output: string; type: string };

  constructor(
    private readonly config: OutputConfig,
    private readonly output: Output,
    private readonly journal: Journal,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** The real clock unless a test steps time itself. */
    private readonly clock: Clock = realClock,
  ) {
    this.name = config.name;
    this.type = config.type;
    this.labels = { output: this.name, type: this.type };
    journal.track(this.name);
    this.pendingTotal = journal.pendingCount(this.name);
    const now = () => this.clock.now();
    this.bucket = new TokenBucket(config.rate_limit.per_second, config.rate_limit.burst, now);
    this.circuit = new CircuitBreaker(config.circuit.failure_threshold, config.circuit.open_ms, now, (state) => {
      this.metrics.circuitState.set(this.labels, circuitGauge(state));
      this.logger.warn({ output: this.name, circuit: state }, `output ${this.name}: circuit ${state.replace("_", "-")}`);
    });
    this.metrics.circuitState.set(this.labels, 0);
    this.metrics.queueDepth.set(this.labels, this.pendingTotal);
  }

  start(): void {
    if (this.pendingTotal > 0)
      this.logger.info({ output: this.name, pending: this.pendingTotal }, `output ${this.name}: resuming ${this.pendingTotal} undelivered alerts`);
    for (let i = 0; i < this.config.concurrency; i++) this.workers.push(this.work());
    const poll = () => {
      if (this.queueLength() === 0 && !this.backlog) {
        this.backlog = true;
        this.notify();
      }
      this.cancelPoll = this.clock.timer(poll, IDLE_POLL_MS, { unref: true });
    };
    this.cancelPoll = this.clock.timer(poll, IDLE_POLL_MS, { unref: true });
    void this.runHealthcheck();
  }

  /** New entries just committed for this output. */
  offer(entries: readonly JournalEntry[]): void {
    this.pendingTotal += entries.length;
    this.metrics.queueDepth.set(this.labels, this.pendingTotal);
    if (this.backlog) return;
    for (const e of entries) {
      if (this.queueLength() >= MAX_IN_MEMORY) {
        // The journal has the rest; read it back in order once memory drains.
        this.backlog = true;
        break;
      }
      if (this.queueLength() === 0) this.queueSince = this.clock.now();
      this.queue.push(e);
      this.cursor = e.seq;
    }
    this.notify();
  }

  /** Entries were added behind the lane's back (dead letters replayed): read the journal again. */
  rescan(): void {
    this.pendingTotal = this.journal.pendingCount(this.name);
    this.metrics.queueDepth.set(this.labels, this.pendingTotal);
    this.backlog = true;
    this.notify();
  }

  status(): LaneStatus {
    const s: LaneStatus = {
      name: this.name,
      type: this.type,
      state: this.stopped ? "stopped" : this.state(),
      queue_depth: this.pendingTotal,
      in_flight: this.inFlight,
      delivered: this.delivered,
      failed_attempts: this.failedAttempts,
      dead_lettered: this.deadLettered,
    };
    if (this.lastError) s.last_error = this.lastError;
    return s;
  }

  private state(): LaneState {
    const s = laneState(this.circuit.state, this.consecutiveFailures);
    if (s !== "healthy") return s;
    const rejecting = this.consecutiveRejects >= REJECTING_AFTER || (this.consecutiveRejects > 0 && this.delivered === 0);
    return rejecting ? "rejecting" : s;
  }

  /** Sends what is queued for up to `drainMs`, then aborts; whatever is left stays journaled. */
  async stop(drainMs: number): Promise<void> {
    this.draining = true;
    this.notify();
    let cancel: (() => void) | undefined;
    await Promise.race([Promise.all(this.workers), new Promise<void>((r) => (cancel = this.clock.timer(r, drainMs)))]);
    cancel?.();
    this.stopped = true;
    this.abort.abort();
    this.notify();
    await Promise.all(this.workers);
    this.cancelPoll?.();
    await this.output.close().catch((err) => this.logger.warn({ output: this.name, err: errorMessage(err) }, "output close failed"));
  }

  private queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  /** Resolves on new data, stop, or after `ms`. */
  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.clock.timer(done, ms);
      function done() {
        cancel();
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    ms = Math.min(ms, MAX_TIMER_MS);
    return new Promise((resolve) => {
      const onAbort = () => {
        cancel();
        resolve();
      };
      const cancel = this.clock.timer(() => {
        this.abort.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      this.abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private refill(): void {
    const rows = this.journal.pending(this.name, this.cursor, REFILL_PAGE);
    if (rows.length > 0 && this.queueLength() === 0) this.queueSince = this.clock.now();
    for (const r of rows) this.queue.push(r);
    if (rows.length > 0) this.cursor = rows[rows.length - 1]!.seq;
    if (rows.length < REFILL_PAGE) this.backlog = false;
  }

  private async work(): Promise<void> {
    const rateLimited = this.config.rate_limit.per_second > 0;
    for (;;) {
      // Under a rate limit, wait for the token before cutting the batch, so alerts that
      // arrive meanwhile join it (fewer, fuller sends: a Slack digest rather than a flood).
      if (rateLimited && !((await this.waitForAnyEntry()) && (await this.waitForToken()))) return;
      const batch = await this.nextBatch();
      if (!batch) return;
      await this.deliver(batch, rateLimited);
    }
  }

  /** Waits until the queue holds something; false when stopping with nothing left. */
  private async waitForAnyEntry(): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      if (this.queueLength() === 0 && this.backlog) this.refill();
      if (this.queueLength() > 0) return true;
      if (this.draining) return false;
      await this.waitForData(IDLE_POLL_MS);
    }
  }

  /** Takes a rate-limit token, waiting for one; a token is only taken once there is work for it. */
  private async waitForToken(): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      const wait = this.bucket.take();
      if (wait === 0) return true;
      await this.sleep(wait);
    }
  }

  private async nextBatch(): Promise<JournalEntry[] | undefined> {
    const { max_events, max_bytes, max_wait_ms } = this.config.batch;
    for (;;) {
      if (this.stopped) return undefined;
      if (this.queueLength() === 0 && this.backlog && this.queueLength() < MAX_IN_MEMORY) this.refill();
      const available = this.queueLength();
      if (available === 0) {
        if (this.draining) return undefined;
        await this.waitForData(IDLE_POLL_MS);
        continue;
      }
      // Wait for a fuller batch only while nothing forces the send out.
      if (available < max_events && max_wait_ms > 0 && !this.draining && !this.backlog) {
        const waited = this.clock.now() - this.queueSince;
        if (waited < max_wait_ms) {
          let bytes = 0;
          for (let i = this.queueHead; i < this.queue.length; i++) bytes += this.queue[i]!.bytes;
          if (bytes < max_bytes) {
            await this.waitForData(max_wait_ms - waited);
            continue;
          }
        }
      }
      const batch: JournalEntry[] = [];
      let bytes = 0;
      while (this.queueHead < this.queue.length && batch.length < max_events) {
        const e = this.queue[this.queueHead]!;
        if (batch.length > 0 && bytes + e.bytes > max_bytes) break;
        batch.push(e);
        bytes += e.bytes;
        this.queueHead++;
      }
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.queueSince = this.clock.now();
      return batch;
    }
  }

  /**
   * Waits until the rate limit, the circuit and any Retry-After allow a send. retry.max_age
   * is judged while waiting, not only after a send: a batch whose oldest alert reaches it
   * before the wait ends is "expired" (dead-lettered without another attempt). A batch never
   * tried that may go at once is sent whatever its age: the output may well take it.
   */
  private async gate(tokenHeld: boolean, expiresAt: number, attempted: boolean): Promise<"send" | "stopped" | "expired"> {
    for (;;) {
      if (this.stopped) return "stopped";
      let wait = this.notBefore - this.clock.now();
      if (wait <= 0) {
        wait = this.circuit.acquire();
        if (wait <= 0) {
          wait = tokenHeld ? 0 : this.bucket.take();
          if (wait > 0) this.circuit.release();
        }
      }
      if (wait <= 0) {
        if (attempted && this.clock.now() >= expiresAt) {
          this.circuit.release();
          return "expired";
        }
        return "send";
      }
      const left = expiresAt - this.clock.now();
      if (left <= 0) return "expired";
      await this.sleep(Math.min(wait, left));
    }
  }

  /** When the batch's oldest alert reaches retry.max_age (Infinity when max_age is 0). */
  private expiresAt(batch: readonly JournalEntry[]): number {
    const maxAge = this.config.retry.max_age;
    if (maxAge <= 0 || batch.length === 0) return Infinity;
    let oldest = Infinity;
    for (const e of batch) oldest = Math.min(oldest, e.acceptedAt);
    return oldest + maxAge;
  }

  private async deliver(batch: JournalEntry[], tokenHeld: boolean): Promise<void> {
    let current = batch;
    let attempts = 0;
    while (current.length > 0) {
      const expiresAt = this.expiresAt(current);
      const verdict = await this.gate(tokenHeld && attempts === 0, expiresAt, attempts > 0);
      if (verdict === "stopped") return;
      if (verdict === "expired") {
        const why = this.lastError ? `: ${this.lastError.reason}` : "";
        this.toDeadLetters(
          current.map((entry) => ({ entry, reason: `older than retry.max_age (${this.config.retry.max_age} ms) after ${attempts} attempt(s)${why}`, attempts })),
        );
        return;
      }
      this.inFlight++;
      this.metrics.inFlight.set(this.labels, this.inFlight);
      this.metrics.batchSize.observe(this.labels, current.length);
      const result = await this.sendOnce(current);
      this.inFlight--;
      this.metrics.inFlight.set(this.labels, this.inFlight);
      attempts++;
      if (this.stopped && result.kind !== "ok") {
        // Aborted by shutdown: no verdict; the entries stay journaled for the next start.
        this.circuit.release();
        return;
      }
      const retry = this.settle(current, result, attempts);
      if (retry.entries.length === 0) return;
      // A receiver that says when to come back is taken at its word (a 429 with Retry-After: 1
      // is retried after a second, not after a backoff grown through a rate-limit episode);
      // never sooner than retry.initial_ms, so "Retry-After: 0" cannot make a tight loop.
      const { initial_ms, max_ms } = this.config.retry;
      const wait = retry.retryAfterMs !== undefined ? Math.max(retry.retryAfterMs, initial_ms) : backoffMs(attempts - 1, initial_ms, max_ms, () => this.clock.random());
      current = retry.entries;
      // Woken at max_age at the latest: gate() then dead-letters the batch without a send.
      await this.sleep(Math.min(wait, this.expiresAt(current) - this.clock.now()));
    }
  }

  private async sendOnce(batch: readonly JournalEntry[]): Promise<SendResult> {
    const deadline = this.deadline(this.config.timeout_ms);
    try {
      return await this.output.send(
        batch.map((e) => e.alert),
        deadline.signal,
      );
    } catch (err) {
      // An output should classify its own failures; a throw is treated as transient.
      return { kind: "retry", reason: `output threw: ${errorMessage(err)}` };
    } finally {
      deadline.clear();
    }
  }

  /**
   * A signal that aborts at `ms` or when the lane stops. A plain timer rather than
   * AbortSignal.any(AbortSignal.timeout()): on Node 20 the combined signal can lose its
   * timeout to garbage collection, and a hung send would then never be cut.
   */
  private deadline(ms: number): { signal: AbortSignal; clear(): void } {
    const controller = new AbortController();
    const cancel = this.clock.timer(() => controller.abort(new DOMException(`send timed out after ${ms} ms`, "TimeoutError")), ms);
    const onStop = () => controller.abort(this.abort.signal.reason);
    if (this.abort.signal.aborted) onStop();
    else this.abort.signal.addEventListener("abort", onStop, { once: true });
    return {
      signal: controller.signal,
      clear: () => {
        cancel();
        this.abort.signal.removeEventListener("abort", onStop);
      },
    };
  }

  /** Applies a result: acks, dead letters; returns what must be tried again. */
  private settle(batch: readonly JournalEntry[], result: SendResult, attempts: number): { entries: JournalEntry[]; retryAfterMs?: number } {
    switch (result.kind) {
      case "ok":
        this.succeeded(batch);
        this.circuit.success();
        this.consecutiveFailures = 0;
        this.consecutiveRejects = 0;
        return { entries: [] };
      case "reject":
        // The service answered: it is up, the alerts are what it refuses.
        this.circuit.success();
        this.consecutiveFailures = 0;
        this.consecutiveRejects++;
        this.failed("reject", result.reason);
        this.toDeadLetters(batch.map((entry) => ({ entry, reason: result.reason, attempts, ...(result.status !== undefined ? { status: result.status } : {}) })));
        return { entries: [] };
      case "retry": {
        // A 429 is a service that is up and pacing us: Retry-After and backoff slow the lane
        // down; opening the circuit would add open_ms of silence after the episode is over.
        if (result.status === 429) this.circuit.success();
        else this.circuit.failure();
        this.consecutiveFailures++;
        this.failed("retry", result.reason);
        // Clamped here too: outputs may compute their own wait (a date, a header of their own).
        const retryAfterMs = result.retryAfterMs === undefined ? undefined : Math.min(Math.max(0, result.retryAfterMs), MAX_RETRY_AFTER_MS);
        if (retryAfterMs !== undefined) this.notBefore = Math.max(this.notBefore, this.clock.now() + retryAfterMs);
        const { keep, give } = this.splitExhausted(batch, attempts);
        if (give.length > 0)
          this.toDeadLetters(give.map((entry) => ({ entry, reason: `gave up after ${attempts} attempts: ${result.reason}`, attempts, ...(result.status !== undefined ? { status: result.status } : {}) })));
        if (keep.length > 0) {
          this.metrics.retries.inc(this.labels, keep.length);
          if (this.consecutiveFailures === 1 || this.consecutiveFailures % 20 === 0)
            this.logger.warn({ output: this.name, attempt: attempts, reason: result.reason }, `output ${this.name}: send failed, will retry`);
        }
        return retryAfterMs === undefined ? { entries: keep } : { entries: keep, retryAfterMs };
      }
      case "partial": {
        const failedIdx = new Set(result.failed.map((f) => f.index));
        const delivered = batch.filter((_, i) => !failedIdx.has(i));
        this.succeeded(delivered);
        const retryAgain: JournalEntry[] = [];
        let retryAfterMs: number | undefined;
        for (const f of result.failed) {
          const entry = batch[f.index];
          if (!entry) continue;
          const sub = this.settle([entry], f.result, attempts);
          retryAgain.push(...sub.entries);
          if (sub.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, sub.retryAfterMs);
        }
        // Some of the batch went through: the output takes alerts, it is not "rejecting".
        if (delivered.length > 0) this.consecutiveRejects = 0;
        return retryAfterMs === undefined ? { entries: retryAgain } : { entries: retryAgain, retryAfterMs };
      }
    }
  }

  /**
   * A batch gives up as a whole, when its attempts run out or its oldest alert passes
   * max_age. Retrying what is left of it would send a different batch: an output that names
   * what it writes after the batch's content (S3's object key) would then write the
   * survivors a second time beside an object the first attempt may have written.
   */
  private splitExhausted(batch: readonly JournalEntry[], attempts: number): { keep: JournalEntry[]; give: JournalEntry[] } {
    const { max_attempts, max_age } = this.config.retry;
    const now = this.clock.now();
    const exhausted = (max_attempts > 0 && attempts >= max_attempts) || (max_age > 0 && batch.some((e) => now - e.acceptedAt >= max_age));
    return exhausted ? { keep: [], give: [...batch] } : { keep: [...batch], give: [] };
  }

  private succeeded(entries: readonly JournalEntry[]): void {
    if (entries.length === 0) return;
    const now = this.clock.now();
    this.journal.ack(
      this.name,
      entries.map((e) => e.seq),
    );
    for (const e of entries) this.metrics.deliveryLatency.observe(this.labels, (now - e.acceptedAt) / 1000);
    this.delivered += entries.length;
    this.pendingTotal -= entries.length;
    this.metrics.delivered.inc(this.labels, entries.length);
    this.metrics.queueDepth.set(this.labels, this.pendingTotal);
  }

  private failed(kind: string, reason: string): void {
    this.failedAttempts++;
    this.lastError = { reason, at: new Date(this.clock.now()).toISOString() };
    this.metrics.failedAttempts.inc({ ...this.labels, kind });
  }

  private toDeadLetters(items: DeadLetterInput[]): void {
    this.journal.deadLetter(this.name, items);
    this.deadLettered += items.length;
    this.pendingTotal -= items.length;
    this.metrics.deadLettered.inc(this.labels, items.length);
    this.metrics.queueDepth.set(this.labels, this.pendingTotal);
    this.logger.error(
      { output: this.name, count: items.length, reason: items[0]?.reason, status: items[0]?.status },
      `output ${this.name}: ${items.length} alert(s) moved to the dead-letter store`,
    );
  }

  private async runHealthcheck(): Promise<void> {
    if (!this.output.healthcheck) return;
    const deadline = this.deadline(10_000);
    try {
      await this.output.healthcheck(deadline.signal);
    } catch (err) {
      const reason = `healthcheck failed: ${errorMessage(err)}`;
      this.lastError = { reason, at: new Date(this.clock.now()).toISOString() };
      this.logger.error({ output: this.name }, `output ${this.name}: ${reason} (alerts wait in the journal)`);
    } finally {
      deadline.clear();
    }
  }
}

function circuitGauge(state: CircuitState): number {
  return state === "closed" ? 0 : state === "half_open" ? 1 : 2;
}

function laneState(circuit: CircuitState, failures: number): LaneState {
  if (circuit === "open") return "circuit_open";
  if (circuit === "half_open") return "half_open";
  return failures > 0 ? "retrying" : "healthy";
}

import { meetsMinimum, type Alert, type Priority } from "../alert.js";
import type { AlertRouter } from "../router.js";
import type { DedupConfig, ThrottleConfig } from "./config.js";
import { compileKey } from "./keys.js";
import type { RouteMetrics } from "./metrics.js";
import { summaryAlert, type NoiseKind } from "./summary.js";
import { WindowLimiter } from "./window.js";

/** What routing needs to know about one output. */
export interface OutputRoute {
  name: string;
  type: string;
  minimumPriority: Priority;
  /** The compiled `filter:`; absent means every alert. */
  filter?: (alert: Alert) => boolean;
  dedup?: DedupConfig;
  throttle?: ThrottleConfig;
}

/** Hands a summary alert to the router for one output; rejects when it could not be journaled. */
export type SummarySink = (summary: Alert, output: string) => Promise<void>;

interface Limiter {
  kind: NoiseKind;
  windowMs: number;
  limiter: WindowLimiter;
}

interface CompiledRoute extends OutputRoute {
  limiters: Limiter[];
  skippedPriority: { inc(): void };
  skippedFilter: { inc(): void };
  filterErrors: { inc(): void };
  suppressed: Record<NoiseKind, { inc(): void }>;
}

/**
 * Per output: minimum priority, then the filter, then dedup, then throttle. An alert an
 * output does not want gets no delivery row for it. Closed windows become summary alerts
 * sent to that output alone; a summary that cannot be journaled yet is retried.
 */
export class OutputRouter implements AlertRouter {
  private readonly routes: CompiledRoute[];
  private timer: NodeJS.Timeout | undefined;
  private readonly unsent: { summary: Alert; output: string; kind: NoiseKind; type: string }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private emitScheduled = false;
  /** After stop(), nothing is suppressed any more: no window would close to summarize it. */
  private stopped = false;

  constructor(
    routes: readonly OutputRoute[],
    private readonly metrics: RouteMetrics,
    private readonly sink: SummarySink,
    private readonly options: { now?: () => number; onSinkError?: (err: unknown, output: string) => void } = {},
  ) {
    this.routes = routes.map((r) => this.compile(r));
  }

  private compile(r: OutputRoute): CompiledRoute {
    const limiters: Limiter[] = [];
    const now = this.options.now;
    const base = now ? { now } : {};
    if (r.dedup?.enabled)
      limiters.push({
        kind: "dedup",
        windowMs: r.dedup.window,
        limiter: new WindowLimiter({ limit: 1, windowMs: r.dedup.window, keyOf: compileKey(r.dedup.key), maxKeys: r.dedup.max_keys, ...base }),
      });
    if (r.throttle?.enabled)
      limiters.push({
        kind: "throttle",
        windowMs: r.throttle.interval,
        limiter: new WindowLimiter({ limit: r.throttle.limit, windowMs: r.throttle.interval, keyOf: compileKey(r.throttle.key), maxKeys: r.throttle.max_keys, ...base }),
      });
    const m = this.metrics;
    const labels = { output: r.name, type: r.type };
    return {
      ...r,
      limiters,
      skippedPriority: m.skipped.labels({ ...labels, reason: "minimum_priority" }),
      skippedFilter: m.skipped.labels({ ...labels, reason: "filter" }),
      filterErrors: m.filterErrors.labels(labels),
      suppressed: { dedup: m.suppressed.labels({ ...labels, reason: "dedup" }), throttle: m.suppressed.labels({ ...labels, reason: "throttle" }) },
    };
  }

  outputsFor(alert: Alert): string[] {
    const names: string[] = [];
    let closed = false;
    for (const r of this.routes) {
      if (!meetsMinimum(alert.priority, r.minimumPriority)) {
        r.skippedPriority.inc();
        continue;
      }
      if (r.filter !== undefined && !this.matches(r, alert)) {
        r.skippedFilter.inc();
        continue;
      }
      let admitted = true;
      if (!this.stopped)
        for (const l of r.limiters) {
          admitted = l.limiter.admit(alert);
          // admit() may close this key's expired window on the way: its summary is due.
          if (l.limiter.hasClosed) closed = true;
          if (!admitted) {
            r.suppressed[l.kind].inc();
            break;
          }
        }
      if (admitted) names.push(r.name);
    }
    if (closed) this.scheduleEmit();
    return names;
  }

  private matches(r: CompiledRoute, alert: Alert): boolean {
    try {
      return r.filter!(alert);
    } catch {
      // A filter bug must not lose alerts: route it and count the error.
      r.filterErrors.inc();
      return true;
    }
  }

  /** Open windows per output and kind, for the gauge. */
  openWindows(): { output: string; type: string; reason: string; value: number }[] {
    return this.routes.flatMap((r) => r.limiters.map((l) => ({ output: r.name, type: r.type, reason: l.kind, value: l.limiter.openWindows })));
  }

  /** Sweeps closed windows on a timer (unref'd: it never keeps the process alive). */
  start(): void {
    const windows = this.routes.flatMap((r) => r.limiters.map((l) => l.windowMs));
    if (windows.length === 0) return;
    const tick = Math.max(50, Math.min(1000, Math.floor(Math.min(...windows) / 20)));
    this.timer = setInterval(() => this.sweep(), tick);
    this.timer.unref();
  }

  /** Closes windows whose time ran out and emits their summaries. */
  sweep(): Promise<void> {
    for (const r of this.routes) for (const l of r.limiters) l.limiter.sweep();
    return this.emit();
  }

  /**
   * At shutdown, before the lanes drain: closes every open window early and journals its
   * summary, so the suppressed counts are delivered (or wait in the journal) like any alert.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    for (const r of this.routes) for (const l of r.limiters) l.limiter.closeAll();
    await this.emit();
    await Promise.all([...this.inFlight]);
  }

  private scheduleEmit(): void {
    if (this.emitScheduled) return;
    this.emitScheduled = true;
    setImmediate(() => {
      this.emitScheduled = false;
      void this.emit();
    });
  }

  private emit(): Promise<void> {
    for (const r of this.routes) {
      for (const l of r.limiters) {
        for (const w of l.limiter.takeClosed()) this.unsent.push({ summary: summaryAlert(l.kind, w, l.windowMs), output: r.name, kind: l.kind, type: r.type });
        if (l.limiter.overflowed > 0) {
          this.metrics.overflowed.inc({ output: r.name, type: r.type, reason: l.kind }, l.limiter.overflowed);
          l.limiter.overflowed = 0;
        }
      }
    }
    if (this.unsent.length === 0) return Promise.all([...this.inFlight]).then(() => undefined);
    const batch = this.unsent.splice(0, this.unsent.length);
    const work = (async () => {
      for (const item of batch) {
        try {
          await this.sink(item.summary, item.output);
          this.metrics.summaries.inc({ output: item.output, type: item.type, reason: item.kind });
        } catch (err) {
          // Journal full or stopping: keep it for the next sweep rather than forget the count.
          this.unsent.push(item);
          this.options.onSinkError?.(err, item.output);
        }
      }
    })();
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }
}

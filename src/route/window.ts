import { priorityRank, type Alert, type Priority } from "../alert.js";

/** One open window of one key: how many alerts arrived, how many went through. */
export interface OpenWindow {
  key: string;
  start: number;
  /** Alerts of this key in the window, passed and suppressed. */
  count: number;
  passed: number;
  first: Alert;
  /** The most severe priority seen in the window. */
  worst: Priority;
}

export interface ClosedWindow extends OpenWindow {
  end: number;
  suppressed: number;
  /** True when the window was closed early (shutdown), not by its time running out. */
  early: boolean;
}

export interface WindowLimiterOptions {
  /** Alerts per key and window that pass: 1 is dedup, N is throttle. */
  limit: number;
  windowMs: number;
  keyOf: (alert: Alert) => string;
  maxKeys: number;
  now?: () => number;
}

/**
 * Fixed windows per key, opened by a key's first alert: the first `limit` alerts pass,
 * the rest are counted and suppressed. Closing a window that suppressed anything yields
 * a ClosedWindow for the summary. The map keeps insertion order, which is start order,
 * so sweeping stops at the first window still open.
 */
export class WindowLimiter {
  private readonly windows = new Map<string, OpenWindow>();
  private readonly closed: ClosedWindow[] = [];
  private readonly now: () => number;
  /** Alerts let through because max_keys windows were already open. */
  overflowed = 0;

  constructor(private readonly options: WindowLimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  get openWindows(): number {
    return this.windows.size;
  }

  /** True when closed windows wait for takeClosed(). */
  get hasClosed(): boolean {
    return this.closed.length > 0;
  }

  /** True when the alert may go to the output. */
  admit(alert: Alert): boolean {
    const key = this.options.keyOf(alert);
    const now = this.now();
    let w = this.windows.get(key);
    if (w !== undefined && now - w.start >= this.options.windowMs) {
      this.close(w, now, false);
      w = undefined;
    }
    if (w === undefined) {
      if (this.windows.size >= this.options.maxKeys) {
        this.sweep(now);
        if (this.windows.size >= this.options.maxKeys) {
          this.overflowed++;
          return true;
        }
      }
      this.windows.set(key, { key, start: now, count: 1, passed: 1, first: alert, worst: alert.priority });
      return true;
    }
    w.count++;
    if (priorityRank(alert.priority) < priorityRank(w.worst)) w.worst = alert.priority;
    if (w.passed < this.options.limit) {
      w.passed++;
      return true;
    }
    return false;
  }

  /** Closes every window whose time ran out. */
  sweep(now = this.now()): void {
    for (const w of this.windows.values()) {
      if (now - w.start < this.options.windowMs) break;
      this.close(w, now, false);
    }
  }

  /** Closes every open window (at shutdown), so no suppressed count is forgotten. */
  closeAll(): void {
    const now = this.now();
    for (const w of this.windows.values()) this.close(w, now, true);
  }

  /** Windows closed since the last call that suppressed something: each needs a summary. */
  takeClosed(): ClosedWindow[] {
    return this.closed.splice(0, this.closed.length);
  }

  private close(w: OpenWindow, now: number, early: boolean): void {
    this.windows.delete(w.key);
    const suppressed = w.count - w.passed;
    if (suppressed > 0) this.closed.push({ ...w, end: early ? now : Math.min(now, w.start + this.options.windowMs), suppressed, early });
  }
}

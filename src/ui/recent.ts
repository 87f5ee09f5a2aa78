import type { Alert } from "../alert.js";

export interface RecentLimits {
  maxAlerts: number;
  /** Sum of the kept alerts' JSON sizes. */
  maxBytes: number;
}

/**
 * The most recent alerts for `/api/alerts` and the dashboard's backlog, bounded by count
 * and by bytes: 1,500 alerts of 1 MiB each would otherwise hold 1.5 GB. The oldest go
 * first; an alert larger than the whole budget is not kept at all.
 */
export class RecentAlerts {
  /** A ring of slots; `head` is the oldest, `size` are in use. */
  private alerts: (Alert | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private size = 0;
  private bytesHeld = 0;

  constructor(private readonly limits: RecentLimits) {}

  get count(): number {
    return this.size;
  }

  get bytes(): number {
    return this.bytesHeld;
  }

  add(alert: Alert, bytes: number): void {
    const { maxAlerts, maxBytes } = this.limits;
    if (maxAlerts <= 0 || bytes > maxBytes) return;
    while (this.size > 0 && (this.size >= maxAlerts || this.bytesHeld + bytes > maxBytes)) this.dropOldest();
    // Every slot in use (only below maxAlerts, past the loop above): grow, in order.
    if (this.size === this.alerts.length) {
      if (this.head !== 0) {
        this.alerts = [...this.alerts.slice(this.head), ...this.alerts.slice(0, this.head)];
        this.sizes = [...this.sizes.slice(this.head), ...this.sizes.slice(0, this.head)];
        this.head = 0;
      }
      this.alerts.push(alert);
      this.sizes.push(bytes);
    } else {
      const slot = (this.head + this.size) % this.alerts.length;
      this.alerts[slot] = alert;
      this.sizes[slot] = bytes;
    }
    this.size++;
    this.bytesHeld += bytes;
  }

  /** The newest `limit` alerts, oldest first. */
  list(limit = this.size): Alert[] {
    const n = Math.max(0, Math.min(limit, this.size));
    const out: Alert[] = [];
    for (let i = this.size - n; i < this.size; i++) out.push(this.alerts[(this.head + i) % this.alerts.length]!);
    return out;
  }

  private dropOldest(): void {
    this.alerts[this.head] = undefined;
    this.bytesHeld -= this.sizes[this.head]!;
    this.head = (this.head + 1) % this.alerts.length;
    this.size--;
  }
}

import type { ServerResponse } from "node:http";
import type { Alert } from "../alert.js";

/** Alerts are coalesced and written at most this often, so a storm costs one write per tick. */
const FLUSH_MS = 100;
/** Most alerts one flush carries; the rest of a storm is summarised as a count the page shows. */
const MAX_PER_FLUSH = 2000;
/** A client whose socket buffer grows past this is too slow: it is dropped and reconnects. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events to every open dashboard: `alert` events (a JSON array of new alerts),
 * `status` events (outputs, stats, detector) and `dropped` when a storm outran the feed.
 */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private pending: Alert[] = [];
  private skipped = 0;
  private flushTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a raw response: SSE headers, then events until the client goes away. */
  attach(res: ServerResponse, first?: { event: string; data: unknown }): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // Proxies (nginx) would otherwise buffer the stream.
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    if (first) res.write(frame(first.event, first.data));
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.writeAll(": keep-alive\n\n"), HEARTBEAT_MS);
      this.heartbeat.unref();
    }
  }

  /** Queues an alert for the next flush; nothing is done when no page is open. */
  alert(alert: Alert): void {
    if (this.clients.size === 0) return;
    if (this.pending.length >= MAX_PER_FLUSH) this.skipped++;
    else this.pending.push(alert);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.writeAll(frame(event, data));
  }

  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length > 0) this.writeAll(frame("alert", this.pending));
    if (this.skipped > 0) this.writeAll(frame("dropped", { count: this.skipped }));
    this.pending = [];
    this.skipped = 0;
  }

  close(): void {
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeat);
    this.flushTimer = undefined;
    this.heartbeat = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private writeAll(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        this.clients.delete(res);
        continue;
      }
      res.write(chunk);
    }
  }
}

function frame(event: string, data: unknown): string {
  // JSON never contains a raw newline, so one data: line is a whole payload.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

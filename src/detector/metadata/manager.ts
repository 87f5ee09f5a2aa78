/**
 * Container metadata off the hot path. `get(id)` answers from the cache at once, and on the
 * first sight of an id starts one asynchronous lookup across the enabled engines: an event is
 * never held for it, so events of a container raised before its lookup completes carry `<NA>`
 * in the engine-given fields, and later ones the values.
 *
 * An engine that cannot be asked (socket missing, refused, timed out) is one warning per
 * episode, not per event: "down" once, "answers again" once. An id no engine knows (a
 * container gone before its lookup, or no engine up) is asked again after a back-off.
 */
import type { Logger } from "pino";
import { EngineDownError, type ContainerEngine, type ContainerInfo } from "./types.js";

interface Entry {
  state: "pending" | "found" | "missing";
  info?: ContainerInfo;
  /** When a missing id may be asked again (ms). */
  retryAt: number;
  misses: number;
  lastUsed: number;
  /** The first lookup has completed (found or not): the container event went out. */
  announced: boolean;
}

export interface ContainerMetadataStats {
  /** Ids in the cache. */
  containers: number;
  lookups: number;
  found: number;
  /** Lookups no engine could answer with the container. */
  missing: number;
  /** Requests that failed because the engine was down. */
  engineErrors: number;
  /** Engines (name@socket) currently down. */
  enginesDown: string[];
  /** Lookup latency per engine, ms, of the last 1,000 answered lookups. */
  latencyMs: Record<string, { p50: number; p99: number; count: number }>;
}

export interface ContainerMetadataOptions {
  engines: readonly ContainerEngine[];
  logger: Logger;
  /**
   * Called once per container id when its first lookup completes, with what was found
   * (undefined: no engine knows it). The detector emits the synthetic `container` event here.
   */
  onFirstLookup?(id: string, info: ContainerInfo | undefined): void;
  /** First back-off before asking again for an unknown id (doubles up to 60 s). Default 2 s. */
  retryMs?: number;
  /** Entries unused this long are dropped. Default 10 minutes. */
  idleMs?: number;
}

const LATENCY_WINDOW = 1000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export class ContainerMetadata {
  private readonly entries = new Map<string, Entry>();
  private readonly down = new Set<string>();
  private readonly latencies = new Map<string, number[]>();
  private readonly retryMs: number;
  private readonly idleMs: number;
  private stopped = false;
  private counters = { lookups: 0, found: 0, missing: 0, engineErrors: 0 };

  constructor(private readonly opts: ContainerMetadataOptions) {
    this.retryMs = opts.retryMs ?? 2000;
    this.idleMs = opts.idleMs ?? 10 * 60_000;
  }

  get engines(): readonly ContainerEngine[] {
    return this.opts.engines;
  }

  /** The container's metadata when known; never waits. The first call for an id starts its lookup. */
  get(id: string): ContainerInfo | undefined {
    const now = Date.now();
    let e = this.entries.get(id);
    if (e === undefined) {
      e = { state: "pending", retryAt: 0, misses: 0, lastUsed: now, announced: false };
      this.entries.set(id, e);
      void this.lookup(id, e);
      return undefined;
    }
    e.lastUsed = now;
    if (e.state === "missing" && now >= e.retryAt) {
      e.state = "pending";
      void this.lookup(id, e);
    }
    return e.info;
  }

  /** Waits until the id's lookup completed (for tests and tools, never the event path). */
  async resolve(id: string, timeoutMs = 30_000): Promise<ContainerInfo | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = this.get(id);
      if (info || this.entries.get(id)?.state === "missing" || Date.now() > deadline) return info;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async lookup(id: string, e: Entry): Promise<void> {
    this.counters.lookups++;
    let info: ContainerInfo | undefined;
    for (const engine of this.opts.engines) {
      const key = `${engine.name}@${engine.socket}`;
      const t0 = performance.now();
      try {
        info = await engine.inspect(id);
        this.record(engine.name, performance.now() - t0);
        if (this.down.delete(key)) this.opts.logger.info({ engine: engine.name, socket: engine.socket }, "container engine answers again");
        if (info) break;
      } catch (err) {
        this.counters.engineErrors++;
        if (!(err instanceof EngineDownError)) {
          // a malformed answer is this engine's problem for this id only
          this.opts.logger.warn({ engine: engine.name, socket: engine.socket, container: id, err: (err as Error).message }, "container engine gave an unreadable answer");
        } else if (!this.down.has(key)) {
          this.down.add(key);
          this.opts.logger.warn(
            { engine: engine.name, socket: engine.socket, err: err.message },
            "container engine is down: its containers' metadata is <NA> until it answers",
          );
        }
      }
    }
    if (this.stopped) return;
    if (info) {
      this.counters.found++;
      e.state = "found";
      e.info = info;
    } else {
      this.counters.missing++;
      e.state = "missing";
      e.retryAt = Date.now() + Math.min(60_000, this.retryMs * 2 ** Math.min(e.misses, 5));
      e.misses++;
    }
    if (!e.announced) {
      e.announced = true;
      try {
        this.opts.onFirstLookup?.(id, info);
      } catch (err) {
        this.opts.logger.error({ container: id, err: (err as Error).message }, "container event failed");
      }
    }
  }

  private record(engine: string, ms: number): void {
    let l = this.latencies.get(engine);
    if (!l) this.latencies.set(engine, (l = []));
    l.push(ms);
    if (l.length > LATENCY_WINDOW) l.splice(0, l.length - LATENCY_WINDOW);
  }

  /** Whether the id is in the cache (looked up or being looked up). */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Drops entries unused for idleMs (their containers are most likely gone). */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const [id, e] of this.entries)
      if (e.state !== "pending" && now - e.lastUsed > this.idleMs) {
        this.entries.delete(id);
        n++;
      }
    return n;
  }

  stats(): ContainerMetadataStats {
    const latencyMs: ContainerMetadataStats["latencyMs"] = {};
    for (const [k, l] of this.latencies) {
      const s = [...l].sort((a, b) => a - b);
      latencyMs[k] = { p50: percentile(s, 50), p99: percentile(s, 99), count: s.length };
    }
    return { containers: this.entries.size, ...this.counters, enginesDown: [...this.down], latencyMs };
  }

  close(): void {
    this.stopped = true;
    for (const e of this.opts.engines) e.close?.();
  }
}

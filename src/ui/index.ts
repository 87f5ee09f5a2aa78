import type { FastifyInstance, FastifyReply } from "fastify";
import type { LaneStatus } from "../delivery/lane.js";
import type { Router } from "../router.js";
import type { RunContext, RunExtension } from "../run-context.js";
import { errorMessage, type ErrorCode } from "../errors.js";
import { loadPage, type PageAssets } from "./assets.js";
import { readDetectorStats, type DetectorStats } from "./detector-stats.js";
import { AlertStats, BUCKETS, BUCKET_MS, type StatsSnapshot } from "./stats.js";
import { EventHub } from "./stream.js";
import { HistoryQueryError, historyStats, wantsHistory, type HistoryQuery } from "../history/api.js";

export type { DetectorStats, DetectorStatsProvider } from "./detector-stats.js";

/** How often open pages get output state, stats and detector counters. */
const STATUS_MS = 2000;

export interface OutputView extends LaneStatus {
  /** Alerts delivered per second since the previous status. */
  delivery_rate: number;
  /** Alerts in the dead-letter store now (replayable), not since start. */
  dead_letters: number;
}

export interface StatusView {
  now: number;
  started_at: number;
  accepting: boolean;
  journal: { used_bytes: number; max_bytes: number };
  outputs: OutputView[];
  stats: StatsSnapshot;
  detector?: DetectorStats;
}

/**
 * The dashboard: `/ui`, `/api/stats`, `/api/status` and `/api/stream` (server-sent
 * events). Everything else it shows comes from the core API (`/api/alerts`,
 * `/api/dead-letters`, replay). Auth is the ingest hook's: with tokens set, these routes
 * need one too (the page itself, which holds no data, does not).
 */
export class Dashboard {
  readonly stats = new AlertStats();
  readonly hub = new EventHub();
  private timer?: NodeJS.Timeout;
  private readonly lastDelivered = new Map<string, { at: number; delivered: number; rate: number }>();

  /** `ctx` is read at every status: the detector sets its stats provider on it when it starts. */
  constructor(
    private readonly router: Router,
    private readonly ctx: Pick<RunContext, "withDetector" | "detectorStats">,
  ) {
    router.on("alert", (alert) => {
      this.stats.add(alert);
      this.hub.alert(alert);
    });
    this.seedFromHistory();
  }

  /** After a restart the counters start from the history's last 15 minutes, not from zero. */
  private seedFromHistory(): void {
    const history = this.router.history;
    if (!history) return;
    try {
      const now = Date.now();
      const { alerts } = history.query({ from: now - BUCKETS * BUCKET_MS, to: now + 1 }, { limit: 20_000 });
      for (const a of alerts) {
        const t = Date.parse(a.time);
        this.stats.add(a, Number.isFinite(t) ? t : now);
      }
    } catch (err) {
      this.router.logger.warn(`the dashboard's counters start empty: reading the history failed: ${errorMessage(err)}`);
    }
  }

  register(app: FastifyInstance): void {
    // Read once at start; a broken install loses the page, never the router.
    let page: PageAssets | undefined;
    let pageError = "";
    try {
      page = loadPage();
    } catch (err) {
      pageError = errorMessage(err);
      this.router.logger.warn(`dashboard disabled: ${pageError}`);
    }
    const servePage = async (_req: unknown, reply: FastifyReply) => {
      if (!page) return reply.code(500).send({ error: { code: "INTERNAL_ERROR" satisfies ErrorCode, message: `the dashboard is unavailable: ${pageError}` } });
      return reply
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("content-security-policy", page.csp)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .send(page.html);
    };
    app.get("/ui", servePage);
    app.get("/ui/", servePage);
    app.get<{ Querystring: HistoryQuery }>("/api/stats", (req, reply) => {
      // A time range or filter reads the history; without one, the live counters answer.
      const history = this.router.history;
      if (history && wantsHistory(req.query)) {
        try {
          return historyStats(history, req.query);
        } catch (err) {
          if (err instanceof HistoryQueryError)
            return reply.code(400).send({ error: { code: "INGEST_INVALID_FIELD" satisfies ErrorCode, message: err.message, field: err.field } });
          throw err;
        }
      }
      const top = Math.min(Math.max(Math.trunc(Number(req.query.top ?? 10)) || 10, 1), 100);
      return this.stats.snapshot(top);
    });
    app.get("/api/status", () => this.status());
    app.get("/api/stream", async (_req, reply) => {
      reply.hijack();
      this.hub.attach(reply.raw, { event: "status", data: await this.status() });
    });
    app.addHook("onClose", async () => this.stop());
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), STATUS_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.hub.close();
  }

  async status(): Promise<StatusView> {
    const now = Date.now();
    const outputs: OutputView[] = [];
    for (const lane of this.router.lanes.values()) {
      const s = lane.status();
      outputs.push({ ...s, delivery_rate: this.rate(s.name, s.delivered, now), dead_letters: this.router.journal.countDeadLetters(s.name) });
    }
    const view: StatusView = {
      now,
      started_at: this.router.startedAt,
      accepting: this.router.isAccepting,
      journal: { used_bytes: safeUsedBytes(this.router), max_bytes: this.router.config.storage.max_bytes },
      outputs,
      stats: this.stats.snapshot(),
    };
    const provider = this.ctx.detectorStats;
    if (this.ctx.withDetector && provider) view.detector = await readDetectorStats(provider);
    return view;
  }

  private async tick(): Promise<void> {
    if (this.hub.size === 0) return;
    this.hub.flush();
    this.hub.send("status", await this.status());
  }

  /** Delivered per second, measured over at least one status period so a burst reads sensibly. */
  private rate(name: string, delivered: number, now: number): number {
    const prev = this.lastDelivered.get(name);
    if (!prev) {
      this.lastDelivered.set(name, { at: now, delivered, rate: 0 });
      return 0;
    }
    const dt = now - prev.at;
    if (dt < STATUS_MS / 2) return prev.rate;
    const rate = Math.round(Math.max(0, ((delivered - prev.delivered) * 1000) / dt) * 10) / 10;
    this.lastDelivered.set(name, { at: now, delivered, rate });
    return rate;
  }
}

function safeUsedBytes(router: Router): number {
  try {
    return router.journal.usedBytes();
  } catch {
    return 0;
  }
}

let current: Dashboard | undefined;

export const extension: RunExtension = {
  name: "dashboard",
  registerRoutes(app: FastifyInstance, ctx: RunContext) {
    current = new Dashboard(ctx.router, ctx);
    current.register(app);
  },
  async start() {
    const dashboard = current;
    if (!dashboard) return;
    dashboard.start();
    return async () => dashboard.stop();
  },
};

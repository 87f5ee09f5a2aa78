/**
 * The webhook sink of the benchmarks, run as its own process so that counting alerts never
 * shares an event loop with the load generator or the router under test.
 *
 *   node --import tsx bench/compare-sidekick/sink.ts [PORT]
 *
 * Prints `{"port":N}` on its first stdout line. Every request other than the control routes
 * is an alert delivery (one alert or a JSON array); alerts are counted by their
 * `output_fields.bench_id`, so Peregrine's batches and Falcosidekick's single POSTs count
 * alike, and duplicates are told apart from first deliveries.
 *
 * Control routes: GET /__stats, POST /__reset, POST /__fail?ms=N (answer 503 for N ms).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SinkStats {
  requests: number;
  /** Alerts received, duplicates included. */
  alerts: number;
  unique: number;
  duplicates: number;
  /** Requests answered 503 while failing. */
  refused: number;
  /** Epoch ms of the first and last accepted delivery (0 when none). */
  firstAt: number;
  lastAt: number;
  failing: boolean;
}

const ID = /"bench_id":"([^"]+)"/g;

let seen = new Set<string>();
let stats: SinkStats = fresh();
let failUntil = 0;

function fresh(): SinkStats {
  return { requests: 0, alerts: 0, unique: 0, duplicates: 0, refused: 0, firstAt: 0, lastAt: 0, failing: false };
}

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (url.startsWith("/__")) {
    control(url, req.method ?? "GET", (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    stats.requests++;
    if (Date.now() < failUntil) {
      stats.refused++;
      res.writeHead(503, { "content-type": "application/json" });
      res.end('{"error":"sink is failing on purpose"}');
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const now = Date.now();
    for (const m of body.matchAll(ID)) {
      stats.alerts++;
      const id = m[1]!;
      if (seen.has(id)) stats.duplicates++;
      else {
        seen.add(id);
        stats.unique++;
      }
    }
    if (stats.firstAt === 0) stats.firstAt = now;
    stats.lastAt = now;
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
});

function control(url: string, method: string, reply: (status: number, body: unknown) => void): void {
  const u = new URL(url, "http://sink");
  if (u.pathname === "/__stats") return reply(200, { ...stats, failing: Date.now() < failUntil });
  if (u.pathname === "/__reset" && method === "POST") {
    seen = new Set();
    stats = fresh();
    failUntil = 0;
    return reply(200, { ok: true });
  }
  if (u.pathname === "/__fail" && method === "POST") {
    const ms = Number(u.searchParams.get("ms") ?? "0");
    failUntil = Date.now() + (Number.isFinite(ms) ? ms : 0);
    return reply(200, { failUntil });
  }
  reply(404, { error: `no control route ${u.pathname}` });
}

server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));

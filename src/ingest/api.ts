import type { FastifyInstance } from "fastify";
import type { Router } from "../router.js";
import { HistoryQueryError, parseCursor, parseFilter, parseLimit, wantsHistory, type HistoryQuery } from "../history/api.js";
import { errorBody } from "./reply.js";

/** JSON for the dashboard and the CLI. */
export function registerApi(app: FastifyInstance, router: Router): void {
  app.get("/api/outputs", () => ({ outputs: [...router.lanes.values()].map((l) => l.status()) }));
  app.get<{ Querystring: HistoryQuery }>("/api/alerts", (req, reply) => {
    const history = router.history;
    if (!history) {
      if (wantsHistory(req.query))
        return reply.code(400).send(errorBody("INGEST_INVALID_FIELD", "filters and time ranges need the alert history (history.enabled: true)", { field: "history" }));
      const limit = Math.min(Math.max(Number(req.query.limit ?? 1000) || 1000, 1), 10_000);
      return { alerts: router.recentAlerts(limit) };
    }
    try {
      const filter = parseFilter(req.query);
      const limit = parseLimit(req.query.limit, 1000, 10_000);
      const cursor = parseCursor(req.query.cursor);
      // A page is bounded in bytes as the in-memory backlog is, so large alerts cannot blow up a response.
      return history.query(filter, { limit, maxBytes: router.config.ingest.recent_alerts.max_bytes, ...(cursor ? { cursor } : {}) });
    } catch (err) {
      if (err instanceof HistoryQueryError) return reply.code(400).send(errorBody("INGEST_INVALID_FIELD", err.message, { field: err.field }));
      throw err;
    }
  });
  app.get<{ Querystring: { output?: string | string[]; limit?: string } }>("/api/dead-letters", (req, reply) => {
    // ?output=a&output=b arrives as an array, which the journal's query cannot bind
    if (Array.isArray(req.query.output))
      return reply.code(400).send(errorBody("INGEST_INVALID_FIELD", "output: give one output name", { field: "output" }));
    const limit = Math.min(Math.max(Number(req.query.limit ?? 1000) || 1000, 1), 10_000);
    const filter = req.query.output === undefined ? { limit } : { output: req.query.output, limit };
    return { dead_letters: router.journal.listDeadLetters(filter), total: router.journal.countDeadLetters(req.query.output) };
  });
  app.post<{ Body: string }>("/api/dead-letters/replay", (req, reply) => {
    let body: { output?: unknown; ids?: unknown } = {};
    try {
      body = req.body ? (JSON.parse(req.body) as typeof body) : {};
    } catch {
      return reply.code(400).send(errorBody("INGEST_INVALID_JSON", "the body is not valid JSON"));
    }
    if (body === null || typeof body !== "object" || Array.isArray(body))
      return reply.code(400).send(errorBody("INGEST_INVALID_JSON", 'the body must be a JSON object, e.g. {"output": "NAME", "ids": [1, 2]}'));
    if (body.output !== undefined && (typeof body.output !== "string" || !router.lanes.has(body.output)))
      return reply.code(400).send(errorBody("DELIVERY_UNKNOWN_OUTPUT", `no output named ${JSON.stringify(body.output)}`, { field: "output" }));
    if (body.ids !== undefined && (!Array.isArray(body.ids) || !body.ids.every((x) => Number.isInteger(x))))
      return reply.code(400).send(errorBody("INGEST_INVALID_FIELD", "ids must be a list of integers", { field: "ids" }));
    const filter: { output?: string; ids?: number[] } = {};
    if (typeof body.output === "string") filter.output = body.output;
    if (Array.isArray(body.ids)) filter.ids = body.ids as number[];
    return { replayed: router.replayDeadLetters(filter) };
  });
}

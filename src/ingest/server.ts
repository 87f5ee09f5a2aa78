import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";
import { isUuid, normalizeAlert, type Alert } from "../alert.js";
import { ERROR_CODES, PeregrineError, type ErrorCode } from "../errors.js";
import { StorageFullError, type Router } from "../router.js";
import { UuidDedup } from "./dedup.js";
import { parseAlertBody } from "./parse.js";
import { createListener } from "./tls.js";
import { HistoryQueryError, parseCursor, parseFilter, parseLimit, wantsHistory, type HistoryQuery } from "../history/api.js";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; index?: number };
}

function errorBody(code: ErrorCode, message: string, extra: { field?: string; index?: number } = {}): ErrorBody {
  return { error: { code, message, ...extra } };
}

const JSON_TYPES = ["application/json", "application/x-ndjson", "application/ndjson", "application/jsonl"];
/** What `curl -d` sends unless told otherwise (Falcosidekick's own example): the body is read as JSON. */
const FORM_TYPE = "application/x-www-form-urlencoded";
const UNSUPPORTED_MEDIA_TYPE = "send Content-Type: application/json (or application/x-ndjson), or none";

/**
 * Alerts normalized, and journaled, per step of a large body: between steps the event loop
 * serves other requests and /healthz, so a 31,000-alert array cannot hold it for seconds.
 */
export const INGEST_CHUNK = 500;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Routes open without a token even when ingest auth is on: probes, scrapers, and the
 * dashboard's page, which holds no data (a browser cannot send a header when it opens it;
 * the page then sends the token from its URL fragment on every call).
 */
const OPEN_ROUTES = new Set(["/healthz", "/ping", "/metrics", "/ui", "/ui/"]);

/**
 * The HTTP API. Answers 200 only after the journal committed the alerts; every refusal is
 * a JSON error with a stable code, and the field (and batch index) that caused it.
 */
export function buildServer(router: Router): FastifyInstance {
  const { config } = router;
  const listener = createListener(config, router.logger);
  const app = Fastify({
    bodyLimit: config.ingest.max_body_bytes,
    logger: false,
    // The server (HTTP or HTTPS) carries the timeouts that cut slow or stalled clients.
    serverFactory: listener.serverFactory,
    return503OnClosing: true,
    // A URL that does not decode (/%ZZ) names no route: answered in our error shape, not Fastify's.
    frameworkErrors: (err, req, reply) => {
      router.metrics.ingestRejected.inc({ reason: "INGEST_NOT_FOUND" });
      const message = err.code === "FST_ERR_BAD_URL" ? `the URL is not valid: ${JSON.stringify(req.url.split("?")[0])}` : err.message;
      void (reply as unknown as FastifyReply).code(400).send(errorBody("INGEST_NOT_FOUND", message));
    },
  });

  app.addHook("onClose", async () => listener.close());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...JSON_TYPES, FORM_TYPE], { parseAs: "string" }, (_req, body, done) => done(null, body));
  // Anything else, and no Content-Type at all: a body without one is JSON, as Falcosidekick takes it.
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    if (req.headers["content-type"] === undefined) return done(null, body);
    done(Object.assign(new Error(UNSUPPORTED_MEDIA_TYPE), { statusCode: 415, code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" }), undefined);
  });

  const dedup = config.ingest.dedup_window > 0 ? new UuidDedup(config.storage.path, config.ingest.dedup_window, router.logger) : undefined;
  if (dedup) app.addHook("onClose", async () => dedup.close());

  const queryToken = config.ingest.auth.query_token;
  const tokens = config.ingest.auth.tokens.map((t) => Buffer.from(t));
  if (tokens.length > 0) {
    app.addHook("onRequest", async (req, reply) => {
      const path = req.url.split("?")[0]!;
      if (OPEN_ROUTES.has(path)) return;
      if (!authorized(req, tokens, queryToken)) {
        router.metrics.ingestRejected.inc({ reason: "INGEST_UNAUTHORIZED" });
        const hint =
          !queryToken && typeof (req.query as Record<string, unknown> | undefined)?.token === "string"
            ? "; a ?token= query is refused unless ingest.auth.query_token is true (URLs land in proxies' logs)"
            : "";
        return reply
          .code(401)
          .header("www-authenticate", 'Bearer realm="peregrine"')
          .send(errorBody("INGEST_UNAUTHORIZED", `a valid bearer token is required (Authorization: Bearer <token>)${hint}`));
      }
    });
  }

  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, _req, reply) => {
    const mapped = mapFastifyError(err.code, err.statusCode);
    router.metrics.ingestRejected.inc({ reason: mapped.code });
    const message = mapped.code === "INGEST_BODY_TOO_LARGE" ? `the body is larger than ingest.max_body_bytes (${config.ingest.max_body_bytes} bytes)` : mapped.message ?? err.message;
    return reply.code(mapped.status).send(errorBody(mapped.code, message));
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody("INGEST_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`)));

  // One log line when the journal reaches its quota and one when it accepts again: a line per
  // refused request would flood the logs exactly when the operator needs to read them.
  let storageFull = false;

  async function ingest(req: FastifyRequest, reply: FastifyReply, allOutputs: boolean, alerts?: Alert[]): Promise<unknown> {
    if (!router.isAccepting) {
      router.metrics.ingestRejected.inc({ reason: "INGEST_SHUTTING_DOWN" });
      return reply.code(503).header("retry-after", "5").send(errorBody("INGEST_SHUTTING_DOWN", "the router is stopping"));
    }
    let batch = alerts;
    let single = true;
    /** Per alert of the batch: the producer's own uuid, the only kind a retry can repeat. */
    let producerUuid: boolean[] = [];
    if (!batch) {
      const parsed = parseAlertBody(typeof req.body === "string" ? req.body : "", { maxDepth: config.ingest.max_depth });
      if (!parsed.ok) {
        router.metrics.ingestRejected.inc({ reason: parsed.code });
        return reply.code(400).send(errorBody(parsed.code, parsed.message, parsed.line === undefined ? {} : { field: `line ${parsed.line}` }));
      }
      single = parsed.single;
      batch = [];
      for (let i = 0; i < parsed.values.length; i++) {
        if (i > 0 && i % INGEST_CHUNK === 0) await yieldToLoop();
        const value = parsed.values[i];
        const r = normalizeAlert(value);
        if (!r.ok) {
          router.metrics.ingestRejected.inc({ reason: "INGEST_INVALID_FIELD" });
          const field = r.error.field || "(alert)";
          const where = single ? field : `[${i}]${r.error.field ? `.${r.error.field}` : ""}`;
          return reply
            .code(400)
            .send(errorBody("INGEST_INVALID_FIELD", `${where}: ${r.error.message}`, single ? { field } : { field, index: i }));
        }
        batch.push(r.alert);
        const given = (value as { uuid?: unknown }).uuid;
        producerUuid.push(typeof given === "string" && isUuid(given));
      }
    } else producerUuid = batch.map(() => false);
    try {
      // A producer's retry of alerts already accepted is answered as before, not journaled twice.
      const claim = dedup ? await dedup.claim(batch, producerUuid) : undefined;
      if (claim && claim.duplicates > 0) router.metrics.ingestDuplicates.inc(claim.duplicates);
      try {
        await acceptInChunks(claim?.alerts ?? batch, allOutputs, (part) => claim?.commit(part));
      } finally {
        claim?.release();
      }
      const uuids = batch.map((a) => a.uuid);
      if (storageFull) {
        storageFull = false;
        router.logger.info("journal below storage.max_bytes again: accepting alerts");
      }
      if (single && uuids.length === 1) return reply.send({ uuid: uuids[0] });
      return reply.send({ accepted: uuids.length, uuids });
    } catch (err) {
      if (err instanceof StorageFullError) {
        router.metrics.ingestRejected.inc({ reason: "INGEST_STORAGE_FULL" });
        if (!storageFull) {
          storageFull = true;
          router.logger.warn(
            { max_bytes: config.storage.max_bytes },
            "journal at storage.max_bytes: ingest answers 503 until outputs deliver the backlog (nothing is dropped)",
          );
        }
        return reply.code(503).header("retry-after", "10").send(errorBody("INGEST_STORAGE_FULL", ERROR_CODES.INGEST_STORAGE_FULL));
      }
      // An alert the journal cannot store fails its own request, as a bad request.
      if (err instanceof PeregrineError && err.code === "INGEST_INVALID_FIELD") {
        router.metrics.ingestRejected.inc({ reason: err.code });
        return reply.code(400).send(errorBody(err.code, err.message));
      }
      // Not logged here: the journal logs a failing disk once, not once per refused request.
      router.metrics.ingestRejected.inc({ reason: "STORAGE_WRITE_FAILED" });
      return reply.code(503).header("retry-after", "5").send(errorBody("STORAGE_WRITE_FAILED", ERROR_CODES.STORAGE_WRITE_FAILED));
    }
  }

  /**
   * Journals a large batch a chunk at a time: each commit waits for the next group commit,
   * so other requests are served in between. A failure part-way leaves the earlier chunks
   * journaled and answers 503: a retry may deliver those twice (at least once), or once when
   * the alerts carry their own uuid (dedup).
   */
  async function acceptInChunks(batch: Alert[], allOutputs: boolean, committed: (part: Alert[]) => void): Promise<void> {
    if (batch.length === 0) return;
    for (let i = 0; i < batch.length; i += INGEST_CHUNK) {
      const part = batch.length <= INGEST_CHUNK ? batch : batch.slice(i, i + INGEST_CHUNK);
      await router.accept(part, { allOutputs });
      committed(part);
    }
  }

  app.post("/", (req, reply) => ingest(req, reply, false));
  app.post("/test", (req, reply) => ingest(req, reply, true, [router.testAlert()]));
  const methodNotAllowed = async (req: FastifyRequest, reply: FastifyReply) => {
    router.metrics.ingestRejected.inc({ reason: "INGEST_METHOD_NOT_ALLOWED" });
    return reply.code(405).header("allow", "POST").send(errorBody("INGEST_METHOD_NOT_ALLOWED", `${req.method} is not allowed on /; POST alerts`));
  };
  app.route({
    method: ["GET", "PUT", "DELETE", "PATCH", "HEAD"],
    url: "/",
    // Answered before the body is parsed: a PUT with a text body is a wrong method, not a wrong media type.
    onRequest: methodNotAllowed,
    handler: methodNotAllowed,
  });

  app.get("/ping", (_req, reply) => reply.type("text/plain").send("pong\n"));

  app.get("/healthz", (_req, reply) => {
    const health = router.health();
    return reply.code(health.ready ? 200 : 503).send(health.body);
  });

  app.get("/metrics", async (_req, reply) => {
    router.refreshGauges();
    return reply.type(router.metrics.registry.contentType).send(await router.metrics.registry.metrics());
  });

  registerApi(app, router);
  return app;
}

/** JSON for the dashboard and the CLI. */
function registerApi(app: FastifyInstance, router: Router): void {
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

/** A token comes in a header; in the URL (`?token=`) only when the config allows it. */
function authorized(req: FastifyRequest, tokens: Buffer[], queryToken: boolean): boolean {
  const header = req.headers.authorization;
  let presented: string | undefined;
  if (typeof header === "string" && header.startsWith("Bearer ")) presented = header.slice(7).trim();
  else if (queryToken) {
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    if (typeof q === "string") presented = q;
  }
  if (presented === undefined) return false;
  const p = Buffer.from(presented);
  return tokens.some((t) => t.length === p.length && timingSafeEqual(t, p));
}

function mapFastifyError(code: string | undefined, status: number | undefined): { status: number; code: ErrorCode; message?: string } {
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { status: 413, code: "INGEST_BODY_TOO_LARGE" };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? { status: 415, code: "INGEST_UNSUPPORTED_MEDIA_TYPE", message: UNSUPPORTED_MEDIA_TYPE }
        : { status: 400, code: "INGEST_INVALID_JSON", message: "the Content-Length does not match the body" };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, code: "INGEST_EMPTY_BODY", message: "the body is empty" };
    default:
      if (status === 415) return { status: 415, code: "INGEST_UNSUPPORTED_MEDIA_TYPE", message: UNSUPPORTED_MEDIA_TYPE };
      if (status === 413) return { status: 413, code: "INGEST_BODY_TOO_LARGE" };
      if (status !== undefined && status >= 400 && status < 500) return { status, code: "INGEST_INVALID_JSON" };
      return { status: 500, code: "INTERNAL_ERROR", message: "internal error" };
  }
}

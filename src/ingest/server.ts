import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";
import type { ErrorCode } from "../errors.js";
import type { Router } from "../router.js";
import { registerIngest } from "./alerts-route.js";
import { registerApi } from "./api.js";
import { registerHealth } from "./health.js";
import { errorBody } from "./reply.js";
import { createListener } from "./tls.js";

export type { ErrorBody } from "./reply.js";

const JSON_TYPES = ["application/json", "application/x-ndjson", "application/ndjson", "application/jsonl"];
/** What `curl -d` sends unless told otherwise (Falcosidekick's own example): the body is read as JSON. */
const FORM_TYPE = "application/x-www-form-urlencoded";
const UNSUPPORTED_MEDIA_TYPE = "send Content-Type: application/json (or application/x-ndjson), or none";

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
  // A URL that does not decode (/%ZZ) names no route: answered in our error shape, not Fastify's.
  const badUrl = (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    router.metrics.ingestRejected.inc({ reason: "INGEST_BAD_URL" });
    const message = err.code === "FST_ERR_BAD_URL" ? `the URL is not valid: ${JSON.stringify(req.url.split("?")[0])}` : err.message;
    void reply.code(400).send(errorBody("INGEST_BAD_URL", message));
  };
  const app = Fastify({
    bodyLimit: config.ingest.max_body_bytes,
    logger: false,
    // The server (HTTP or HTTPS) carries the timeouts that cut slow or stalled clients.
    serverFactory: listener.serverFactory,
    return503OnClosing: true,
    frameworkErrors: badUrl,
  });

  app.addHook("onClose", async () => listener.close());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...JSON_TYPES, FORM_TYPE], { parseAs: "string" }, (_req, body, done) => done(null, body));
  // Anything else, and no Content-Type at all: a body without one is JSON, as Falcosidekick takes it.
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    if (req.headers["content-type"] === undefined) return done(null, body);
    done(Object.assign(new Error(UNSUPPORTED_MEDIA_TYPE), { statusCode: 415, code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" }), undefined);
  });

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

  registerIngest(app, router);
  registerHealth(app, router);
  registerApi(app, router);
  return app;
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

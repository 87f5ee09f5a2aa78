import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isUuid, normalizeAlert, type Alert } from "../alert.js";
import { ERROR_CODES, PeregrineError } from "../errors.js";
import { StorageFullError, type Router } from "../router.js";
import { UuidDedup } from "./dedup.js";
import { parseAlertBody } from "./parse.js";
import { errorBody } from "./reply.js";

/**
 * Alerts normalized, and journaled, per step of a large body: between steps the event loop
 * serves other requests and /healthz, so a 31,000-alert array cannot hold it for seconds.
 */
export const INGEST_CHUNK = 500;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The ingest route: `POST /` takes one alert, a JSON array or NDJSON, and answers 200 only
 * after the journal committed them; `POST /test` journals a test alert for every output;
 * any other method on `/` is refused with 405.
 */
export function registerIngest(app: FastifyInstance, router: Router): void {
  const { config } = router;
  const dedup = config.ingest.dedup_window > 0 ? new UuidDedup(config.storage.path, config.ingest.dedup_window, router.logger) : undefined;
  if (dedup) app.addHook("onClose", async () => dedup.close());

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
}

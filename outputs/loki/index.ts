/**
 * Grafana Loki: pushes batches to `${url}/loki/api/v1/push`, one stream per label set,
 * as protobuf+snappy (Loki's native format, the default) or JSON+gzip.
 *
 * Answers: 2xx ok; 429 and 5xx retry (Retry-After honored); 401, 403 and 404 retry too (the
 * destination is misconfigured, not the alerts: they wait in the journal until it is fixed);
 * 400 and other 4xx reject with Loki's own message; 413 splits the batch (see sendSlice()).
 */
import type { Dispatcher } from "undici";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, tlsShape } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { encodeRequest, type EncodeOptions, type LokiEncoding, type LineFormat } from "./encode.js";
import { BUILTIN_LABELS, isHighCardinalityField, MAX_LABELS_PER_STREAM, planLabels, sanitizeLabelName } from "./labels.js";

export const PUSH_PATH = "/loki/api/v1/push";

/** Answers about where and as whom we push, not about the alerts. */
const DESTINATION_ERRORS = new Set([401, 403, 404]);

const schema = s
  .object({
    url: s.string().asUrl().describe("Loki's base URL, e.g. http://127.0.0.1:3100 (the push path is appended)."),
    encoding: s
      .string()
      .oneOf(["protobuf", "json"])
      .default("protobuf")
      .describe("protobuf (snappy-compressed, Loki's native format) or json (gzip-compressed)."),
    format: s.string().oneOf(["text", "json"]).default("text").describe("Log line: text (the alert's output line) or json (the whole alert)."),
    labels: s.record(s.string()).default({}).describe("Static stream labels added to rule, priority, source and hostname."),
    label_fields: s
      .array(s.string().notEmpty())
      .default([])
      .describe("Alert fields (custom fields, then output_fields) whose values become stream labels; names are sanitized (k8s.ns.name -> k8s_ns_name)."),
    structured_metadata: s
      .array(s.string().notEmpty())
      .default([])
      .describe("Alert fields attached to each line as structured metadata (Loki 3), e.g. uuid, proc.pid: searchable without making streams."),
    tenant: s.string().optional().describe("Tenant (X-Scope-OrgID) for a multi-tenant Loki."),
    basic_auth: s
      .object({
        username: s.string().notEmpty().describe("User name."),
        password: s.string().describe("Password."),
      })
      .optional()
      .describe("HTTP basic authentication."),
    bearer_token: s.string().optional().describe("Bearer token (Authorization header)."),
    headers: s.record(s.string()).default({}).describe("Extra request headers."),
    tls: tlsShape.optional(),
  });

export const lokiOutput = defineOutput({
  type: "loki",
  summary: "Pushes alerts to Grafana Loki as labeled log streams (protobuf+snappy or JSON+gzip), batched.",
  schema,
  laneDefaults: { batch: { max_events: 10_000, max_bytes: 1024 * 1024, max_wait_ms: 1000 } },
  // Cross-field checks live here: the router merges the type's keys with the lane's keys.
  validate(config, ctx, path) {
    if (config.basic_auth !== undefined && config.bearer_token !== undefined)
      ctx.error(`${path}.bearer_token`, "basic_auth and bearer_token exclude each other");
    const names = new Map<string, string>();
    for (const b of BUILTIN_LABELS) names.set(b, b);
    const check = (label: string, where: string) => {
      const clean = sanitizeLabelName(label);
      const prev = names.get(clean);
      if (prev !== undefined && !BUILTIN_LABELS.includes(clean as (typeof BUILTIN_LABELS)[number]))
        ctx.error(where, `label "${clean}" is already set by ${prev}`);
      names.set(clean, where);
    };
    for (const k of Object.keys(config.labels)) check(k, `${path}.labels.${k}`);
    config.label_fields.forEach((f, i) => {
      const where = `${path}.label_fields[${i}]`;
      check(f, where);
      if (isHighCardinalityField(f))
        ctx.warn(
          where,
          `"${f}" has a different value for nearly every event: as a label it makes one Loki stream per value; put it in structured_metadata instead`,
        );
    });
    if (names.size > MAX_LABELS_PER_STREAM)
      ctx.error(`${path}.labels`, `${names.size} labels per stream; Loki accepts at most ${MAX_LABELS_PER_STREAM} by default`);
  },
  create(config) {
    const dispatcher: Dispatcher = createDispatcher(config.tls as never);
    // https://user:pass@host is Basic auth (basic_auth or bearer_token still win); the URL
    // without it is what requests and error messages name.
    const base = splitUserinfo(config.url);
    const pushUrl = base.url.replace(/\/+$/, "") + PUSH_PATH;
    const options: EncodeOptions = {
      plan: planLabels(config.labels, config.label_fields),
      format: config.format as LineFormat,
      metadata: config.structured_metadata.map((f) => [sanitizeLabelName(f), f]),
    };
    const encoding = config.encoding as LokiEncoding;
    // Header names are case-insensitive: lower-cased, so an extra `X-Scope-OrgID` or
    // `Content-Type` is replaced by what the output sets instead of being sent beside it.
    const baseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.headers)) baseHeaders[name.toLowerCase()] = value;
    if (base.authorization !== undefined && baseHeaders.authorization === undefined) baseHeaders.authorization = base.authorization;
    if (config.tenant !== undefined) baseHeaders["x-scope-orgid"] = config.tenant;
    if (config.basic_auth !== undefined)
      baseHeaders.authorization = `Basic ${Buffer.from(`${config.basic_auth.username}:${config.basic_auth.password}`).toString("base64")}`;
    if (config.bearer_token !== undefined) baseHeaders.authorization = `Bearer ${config.bearer_token}`;

    async function post(body: Buffer | string, headers: Record<string, string>, signal: AbortSignal) {
      return httpSend(pushUrl, { method: "POST", headers: { ...baseHeaders, ...headers }, body, signal, dispatcher });
    }

    /**
     * 413 means "smaller, please", not "failed": the batch is split in halves and each half
     * is sent now, recursively, so a batch too large for Loki's limit is delivered in one
     * send() without the lane guessing a size. A single alert still too large is rejected.
     * Halves that fail come back as `partial`, indexes into the original batch.
     */
    async function sendSlice(batch: readonly Alert[], offset: number, signal: AbortSignal): Promise<SendResult> {
      let encoded;
      try {
        encoded = await encodeRequest(batch, options, encoding);
      } catch (err) {
        return { kind: "reject", reason: `cannot encode the batch: ${errorMessage(err)}` };
      }
      let answer;
      try {
        answer = await post(encoded.body, encoded.headers, signal);
      } catch (err) {
        return classifyNetworkError(err);
      }
      if (answer.status === 413) {
        if (batch.length === 1)
          return { kind: "reject", reason: `Loki refused the alert as too large (HTTP 413): ${answer.text.trim().slice(0, 300)}`, status: 413 };
        const mid = Math.ceil(batch.length / 2);
        const results = [
          { start: offset, size: mid, result: await sendSlice(batch.slice(0, mid), offset, signal) },
          { start: offset + mid, size: batch.length - mid, result: await sendSlice(batch.slice(mid), offset + mid, signal) },
        ];
        return merge(results);
      }
      const result = classifyHttpStatus(answer.status, answer.headers, answer.text);
      if (result.kind !== "reject") return result;
      if (DESTINATION_ERRORS.has(answer.status))
        return { kind: "retry", reason: `Loki refused the credentials, tenant or URL: ${result.reason}`, status: answer.status };
      return { ...result, reason: `Loki refused the batch: ${result.reason}` };
    }

    return {
      send(batch, signal) {
        return sendSlice(batch, 0, signal);
      },
      /** An empty push: proves the URL, TLS, credentials and tenant without writing anything. */
      async healthcheck(signal) {
        let answer;
        try {
          answer = await post(JSON.stringify({ streams: [] }), { "content-type": "application/json" }, signal);
        } catch (err) {
          throw new Error(`cannot reach Loki at ${pushUrl}: ${errorMessage(err)}`, { cause: err });
        }
        if (answer.status >= 300) {
          const hint =
            answer.status === 401 || answer.status === 403
              ? " (check basic_auth / bearer_token / tenant)"
              : answer.status === 404
                ? ` (is ${base.url} Loki's base URL?)`
                : "";
          throw new Error(`Loki answered HTTP ${answer.status} at ${pushUrl}${hint}: ${answer.text.trim().slice(0, 300)}`);
        }
      },
      async close() {
        await dispatcher.close();
      },
    };
  },
});

/** Combines the results of the halves of a split batch. */
function merge(parts: { start: number; size: number; result: SendResult }[]): SendResult {
  if (parts.every((p) => p.result.kind === "ok")) return { kind: "ok" };
  const failed: { index: number; result: SendResult }[] = [];
  for (const p of parts) {
    if (p.result.kind === "ok") continue;
    if (p.result.kind === "partial") failed.push(...p.result.failed);
    else for (let i = 0; i < p.size; i++) failed.push({ index: p.start + i, result: p.result });
  }
  return { kind: "partial", failed };
}

import { createHmac } from "node:crypto";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { errorMessage } from "../../src/errors.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { checkTemplate, compileTemplate, compileTemplateFile } from "../../src/templates/index.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, tlsShape } from "../../src/delivery/http.js";

/** POSTs (or PUTs) the alert JSON, a JSON array for batches, or a rendered body template. */
export const webhookOutput = defineOutput({
  type: "webhook",
  summary: "Sends alerts to an HTTP endpoint as JSON (an array when batched) or a templated body.",
  schema: s.object({
    url: s.string().asUrl().describe("Endpoint to send to."),
    method: s.string().oneOf(["POST", "PUT"]).default("POST").describe("HTTP method."),
    headers: s.record(s.string()).default({}).describe("Extra request headers (values may be ${ENV} references)."),
    tls: tlsShape.optional(),
    body_template: s
      .string()
      .asPath(isTemplateFile)
      .optional()
      .describe("Handlebars template of the body, inline or a .hbs file (a relative path is beside the config file; see docs/templates.md); the alert is the context, or {alerts} for a batch."),
    content_type: s.string().default("application/json").describe("Content-Type of the body."),
    hmac: s
      .object({
        secret: s.string().notEmpty().describe("Shared secret of the HMAC-SHA256 signature."),
        header: s.string().default("X-Peregrine-Signature").describe("Header carrying `sha256=<hex>` of the body."),
      })
      .optional()
      .describe("Signs each body so the receiver can verify it."),
  }),
  validate(config, ctx, path) {
    if (config.body_template !== undefined) {
      const source = config.body_template;
      checkTemplate(ctx, `${path}.body_template`, () => compileBody(source));
    }
  },
  create(config, ctx) {
    const dispatcher = createDispatcher(config.tls as never);
    const render = config.body_template === undefined ? undefined : compileBody(config.body_template);
    // Header names are case-insensitive: lower-cased, so `Content-Type` in headers replaces the
    // default instead of riding beside it (where the default won and the user's was dropped).
    const baseHeaders: Record<string, string> = { "content-type": config.content_type };
    // https://user:pass@host/ is Basic auth (an Authorization in headers still wins).
    const target = splitUserinfo(config.url);
    if (target.authorization !== undefined) baseHeaders.authorization = target.authorization;
    for (const [name, value] of Object.entries(config.headers)) baseHeaders[name.toLowerCase()] = value;

    // One shape per configuration: the alert itself without batching, always an array (or the
    // template's {alerts} context) with it, even when a send happens to hold a single alert.
    const batched = (ctx.batchMaxEvents ?? 1) > 1;
    function encode(batch: readonly Alert[]): string {
      const asArray = batched || batch.length > 1;
      if (render) return asArray ? render({ alerts: batch }) : render(batch[0]!);
      return asArray ? JSON.stringify(batch) : JSON.stringify(batch[0]);
    }

    return {
      async send(batch, signal): Promise<SendResult> {
        let body: string;
        try {
          body = encode(batch);
        } catch (err) {
          // A template that fails on this alert will fail every time: not worth retrying.
          return { kind: "reject", reason: errorMessage(err) };
        }
        const headers = { ...baseHeaders };
        if (config.hmac)
          headers[config.hmac.header.toLowerCase()] = `sha256=${createHmac("sha256", config.hmac.secret).update(body).digest("hex")}`;
        try {
          const res = await httpSend(target.url, { method: config.method as "POST" | "PUT", headers, body, signal, dispatcher });
          return classifyHttpStatus(res.status, res.headers, res.text);
        } catch (err) {
          return classifyNetworkError(err);
        }
      },
      async close() {
        await dispatcher.close();
      },
    };
  },
});

/** `body_template` is inline Handlebars, or the path of a .hbs file (e.g. templates/webhook-generic.hbs). */
function isTemplateFile(source: string): boolean {
  return /\.hbs$/.test(source.trim()) && !source.includes("{{");
}

function compileBody(source: string): (context: object) => string {
  const template = isTemplateFile(source)
    ? compileTemplateFile(source.trim(), { name: source.trim() })
    : compileTemplate(source, { name: "body_template" });
  return (context) => template.render(context);
}

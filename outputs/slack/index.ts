import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { checkTemplate, compileTemplateFile, type CompiledTemplate } from "../../src/templates/index.js";
import { digestFields } from "../chat/digest.js";
import { buildSlackMessage, slackTemplateEscape, type SlackFormat } from "./message.js";

/** The shipped templates, found from the source tree and from the built dist/ tree alike. */
function shippedTemplate(file: string): string {
  const candidates = ["../../templates/", "../../../templates/"].map((dir) => fileURLToPath(new URL(dir + file, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

const schema = s.object({
  webhook_url: s.string().asUrl().describe("The Slack incoming webhook URL (a secret: prefer ${SLACK_WEBHOOK_URL} or a file)."),
  channel: s.string().optional().describe("Channel override (legacy webhooks only; app webhooks post where they were installed)."),
  username: s.string().optional().describe("Sender name override (legacy webhooks only)."),
  icon: s.string().optional().describe("Sender icon: an emoji code such as :eagle: or an image URL."),
  format: s.string().oneOf(["all", "text", "fields"]).default("all").describe("all: output line and fields; text: the output line only; fields: the fields only."),
  template_file: s
    .string()
    .asPath()
    .optional()
    .describe("Handlebars template of one alert's message (default templates/slack.hbs; see docs/templates.md); a relative path is beside the config file."),
  digest: s
    .object({
      ...digestFields,
      template_file: s.string().asPath().optional().describe("Handlebars template of the digest (default templates/slack-digest.hbs); a relative path is beside the config file."),
    })
    .describe("Digest of bursts."),
});

function compileTemplates(config: { template_file?: string | undefined; digest: { template_file?: string | undefined } }): {
  alertTemplate: CompiledTemplate;
  digestTemplate: CompiledTemplate;
} {
  return {
    alertTemplate: compileTemplateFile(config.template_file ?? shippedTemplate("slack.hbs"), { escape: slackTemplateEscape }),
    digestTemplate: compileTemplateFile(config.digest.template_file ?? shippedTemplate("slack-digest.hbs"), { escape: slackTemplateEscape }),
  };
}

/**
 * Slack incoming webhooks. One send is one message (one request), so the lane's rate
 * limit is Slack's message rate; alerts that queue up behind it arrive here as one batch
 * and go out as one digest message.
 */
export const slackOutput = defineOutput({
  type: "slack",
  chat: true,
  summary: "Posts alerts to a Slack channel through an incoming webhook, as Block Kit messages; bursts become digests.",
  schema,
  // Slack allows about one message per second per webhook, with short bursts.
  // Slack allows about one message per second per incoming webhook.
  rateLimitedTarget: (config) => config.webhook_url,
  laneDefaults: {
    batch: { max_events: 100, max_wait_ms: 0 },
    concurrency: 1,
    rate_limit: { per_second: 1, burst: 3 },
  },
  validate(config, ctx, path) {
    // Anything else would go out as icon_url and make Slack refuse every message.
    if (config.icon !== undefined && !/^:[^:\s]+:$/.test(config.icon) && !/^https?:\/\/\S+$/.test(config.icon))
      ctx.error(`${path}.icon`, `must be an emoji code such as ":eagle:" or an http(s) image URL, got "${config.icon}"`);
    checkTemplate(ctx, `${path}.template_file`, () =>
      compileTemplateFile(config.template_file ?? shippedTemplate("slack.hbs"), { escape: slackTemplateEscape }),
    );
    checkTemplate(ctx, `${path}.digest.template_file`, () =>
      compileTemplateFile(config.digest.template_file ?? shippedTemplate("slack-digest.hbs"), { escape: slackTemplateEscape }),
    );
  },
  create(config) {
    const templates = compileTemplates(config);
    const dispatcher = createDispatcher(undefined, 2);
    const target = splitUserinfo(config.webhook_url);
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
    if (target.authorization !== undefined) headers.authorization = target.authorization;
    const options = {
      ...templates,
      format: config.format as SlackFormat,
      digest: config.digest,
      channel: config.channel,
      username: config.username,
      icon: config.icon,
    };
    return {
      async send(batch, signal): Promise<SendResult> {
        let body: string;
        try {
          body = JSON.stringify(buildSlackMessage(batch, options).payload);
        } catch (err) {
          return { kind: "reject", reason: `cannot build the Slack message: ${errorMessage(err)}` };
        }
        try {
          const res = await httpSend(target.url, { method: "POST", headers, body, signal, dispatcher, wantBody: true });
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

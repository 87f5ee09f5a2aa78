import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { byteLength, chatFields, type ChatFormat } from "../chat/message.js";
import { markdown, messageText } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Webex refuses a message whose markdown is longer than 7439 bytes. */
export const WEBEX_MARKDOWN_BYTES = 7439;

/** Webex incoming webhooks: one Markdown message per send; bursts become digests. */
export const webexOutput = defineOutput({
  type: "webex",
  chat: true,
  summary: "Posts alerts to a Webex space through an incoming webhook, as Markdown; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The incoming webhook URL (https://webexapis.com/v1/webhooks/incoming/...; a secret: prefer ${WEBEX_WEBHOOK_URL})."),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  laneDefaults: chatLaneDefaults(1, 3),
  create(config) {
    return createChatOutput({
      service: "Webex",
      url: config.webhook_url,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => ({ markdown: messageText(parts, markdown) }),
      fits: (p) => byteLength(p.markdown) <= WEBEX_MARKDOWN_BYTES,
    });
  },
});

import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { chatFields, type ChatFormat } from "../chat/message.js";
import { markdown, messageText } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Rocket.Chat's default Message_MaxAllowedSize: longer messages are refused. */
export const ROCKETCHAT_TEXT_LIMIT = 5000;

/** Rocket.Chat incoming webhooks: one Markdown message per send; bursts become digests. */
export const rocketchatOutput = defineOutput({
  type: "rocketchat",
  chat: true,
  summary: "Posts alerts to a Rocket.Chat channel through an incoming webhook, as Markdown; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The incoming webhook URL (a secret: prefer ${ROCKETCHAT_WEBHOOK_URL})."),
    channel: s.string().optional().describe("Channel override (#channel or @user)."),
    username: s.string().optional().describe("Sender alias."),
    icon: s.string().optional().describe("Sender icon: an emoji such as :eagle: or an image URL."),
    max_message_chars: s.int().range(200).default(ROCKETCHAT_TEXT_LIMIT).describe("The server's Message_MaxAllowedSize, when it was changed from 5000."),
    tls: tlsShape.optional(),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  laneDefaults: chatLaneDefaults(1, 3),
  create(config) {
    const extra: Record<string, string> = {};
    if (config.channel !== undefined) extra.channel = config.channel;
    if (config.username !== undefined) extra.alias = config.username;
    if (config.icon !== undefined) extra[/^:[^:\s]+:$/.test(config.icon) ? "emoji" : "avatar"] = config.icon;
    return createChatOutput({
      service: "Rocket.Chat",
      url: config.webhook_url,
      tls: config.tls as TlsConfig | undefined,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => ({ ...extra, text: messageText(parts, markdown) }),
      fits: (p) => p.text.length <= config.max_message_chars,
      // Rocket.Chat answers 200 with {"success":false,"error":...} for some refusals.
      answer: (status, text) => (status === 200 && /"success"\s*:\s*false/.test(text) ? { kind: "reject", reason: `HTTP 200: ${text.slice(0, 500)}`, status } : undefined),
    });
  },
});

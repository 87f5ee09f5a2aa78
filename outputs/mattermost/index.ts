import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { chatFields, type ChatFormat } from "../chat/message.js";
import { markdown, messageText } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Mattermost refuses a post longer than 16,383 characters. */
export const MATTERMOST_TEXT_LIMIT = 16_383;

/** Mattermost incoming webhooks: one Markdown post per send; bursts become digests. */
export const mattermostOutput = defineOutput({
  type: "mattermost",
  chat: true,
  summary: "Posts alerts to a Mattermost channel through an incoming webhook, as Markdown; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The incoming webhook URL (a secret: prefer ${MATTERMOST_WEBHOOK_URL})."),
    channel: s.string().optional().describe("Channel override, when the webhook allows it."),
    username: s.string().optional().describe("Sender name override, when the server allows it."),
    icon: s.string().optional().describe("Sender icon: an emoji name such as :eagle: or an image URL."),
    tls: tlsShape.optional(),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  laneDefaults: chatLaneDefaults(1, 3),
  create(config) {
    const extra: Record<string, string> = {};
    if (config.channel !== undefined) extra.channel = config.channel;
    if (config.username !== undefined) extra.username = config.username;
    if (config.icon !== undefined) extra[/^:[^:\s]+:$/.test(config.icon) ? "icon_emoji" : "icon_url"] = config.icon;
    return createChatOutput({
      service: "Mattermost",
      url: config.webhook_url,
      tls: config.tls as TlsConfig | undefined,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => ({ ...extra, text: messageText(parts, markdown) }),
      fits: (p) => p.text.length <= MATTERMOST_TEXT_LIMIT,
    });
  },
});

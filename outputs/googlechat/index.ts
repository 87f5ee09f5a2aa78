import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { byteLength, chatFields, quietMentions, type ChatFormat } from "../chat/message.js";
import { messageText, type Markup } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Google Chat: text up to 4096 characters, a whole message up to 32,000 bytes. */
export const GOOGLECHAT_LIMITS = { textChars: 4096, messageBytes: 32_000 } as const;

/** Google Chat's own formatting: *bold*, _italic_; `<users/all>` pings, so angle brackets are neutralized. */
const googleMarkup: Markup = {
  bold: (t) => `*${t}*`,
  italic: (t) => `_${t}_`,
  escape: (t) => quietMentions(t.replace(/</g, "‹").replace(/>/g, "›").replace(/([*_~`])/g, "\u200b$1\u200b")),
};

/** Google Chat space webhooks: one text message per send; bursts become digests. */
export const googlechatOutput = defineOutput({
  type: "googlechat",
  chat: true,
  summary: "Posts alerts to a Google Chat space through its webhook; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The space's webhook URL, with its key and token (a secret: prefer ${GOOGLECHAT_WEBHOOK_URL})."),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  // Google Chat allows one message per second per space.
  laneDefaults: chatLaneDefaults(1, 1),
  create(config) {
    return createChatOutput({
      service: "Google Chat",
      url: config.webhook_url,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => ({ text: messageText(parts, googleMarkup) }),
      fits: (p) => p.text.length <= GOOGLECHAT_LIMITS.textChars && byteLength(JSON.stringify(p)) <= GOOGLECHAT_LIMITS.messageBytes,
    });
  },
});

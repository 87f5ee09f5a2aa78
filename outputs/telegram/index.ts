import { s } from "../../src/config/schema.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { MAX_RETRY_AFTER_MS } from "../../src/delivery/http.js";
import { chatFields, type ChatFormat } from "../chat/message.js";
import { messageText, type Markup } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** sendMessage refuses text longer than 4096 characters. */
export const TELEGRAM_TEXT_LIMIT = 4096;

/** parse_mode HTML: only &, < and > need escaping, and nothing in alert text can ping. */
const html: Markup = {
  bold: (t) => `<b>${t}</b>`,
  italic: (t) => `<i>${t}</i>`,
  escape: (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"),
};

/** Telegram Bot API sendMessage: one HTML message per send; bursts become digests. */
export const telegramOutput = defineOutput({
  type: "telegram",
  chat: true,
  summary: "Sends alerts to a Telegram chat through a bot (Bot API sendMessage); bursts become digests.",
  schema: s.object({
    token: s.string().notEmpty().describe("The bot token (a secret: prefer ${TELEGRAM_TOKEN})."),
    chat_id: s.string().notEmpty().describe("The chat: a numeric id or @channelusername."),
    api_url: s.string().asUrl().default("https://api.telegram.org").describe("The Bot API server (a local Bot API server, or a proxy)."),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => `${config.api_url}#${config.chat_id}`,
  // Telegram allows about one message per second in a chat and 20 per minute in a group.
  laneDefaults: chatLaneDefaults(0.33, 3),
  create(config) {
    return createChatOutput({
      service: "Telegram",
      url: `${config.api_url.replace(/\/+$/, "")}/bot${config.token}/sendMessage`,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => ({ chat_id: config.chat_id, text: messageText(parts, html), parse_mode: "HTML", link_preview_options: { is_disabled: true } }),
      fits: (p) => p.text.length <= TELEGRAM_TEXT_LIMIT,
      answer: telegramAnswer,
    });
  },
});

/** Telegram says how long to wait in the body ({"parameters":{"retry_after":N}}), not in a header. */
export function telegramAnswer(status: number, text: string): SendResult | undefined {
  if (status < 300) return undefined;
  let body: { description?: unknown; parameters?: { retry_after?: unknown } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return undefined;
  }
  const reason = `HTTP ${status}: ${typeof body.description === "string" ? body.description : text.slice(0, 500)}`;
  const after = body.parameters?.retry_after;
  if (status === 429 || status >= 500) {
    return typeof after === "number" && after >= 0
      ? { kind: "retry", reason, status, retryAfterMs: Math.min(after * 1000, MAX_RETRY_AFTER_MS) }
      : { kind: "retry", reason, status };
  }
  return { kind: "reject", reason, status };
}

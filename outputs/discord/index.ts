import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { priorityColor } from "../../src/templates/index.js";
import { chatFields, omittedNote, type ChatFormat, type MessageParts } from "../chat/message.js";
import { markdown } from "../chat/markup.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Discord's documented message limits (Execute Webhook, Embed Limits). */
export const DISCORD_LIMITS = {
  content: 2000,
  embeds: 10,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  /** All titles, descriptions, field names and values and footers of a message together. */
  embedTotal: 6000,
} as const;

const L = DISCORD_LIMITS;

interface Embed {
  title: string;
  description?: string;
  color: number;
  fields?: { name: string; value: string; inline: boolean }[];
  footer?: { text: string };
}
interface DiscordPayload {
  content?: string;
  username?: string;
  avatar_url?: string;
  embeds: Embed[];
  allowed_mentions: { parse: string[] };
}

function clip(t: string, max: number): string {
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

function render(parts: MessageParts, extra: Pick<DiscordPayload, "username" | "avatar_url">): DiscordPayload {
  const embeds: Embed[] = parts.sections.map((sec) => {
    let fields = sec.fields.map((f) => ({ name: clip(markdown.escape(f.name), L.fieldName), value: clip(markdown.escape(f.value), L.fieldValue), inline: true }));
    if (fields.length > L.fields) fields = [...fields.slice(0, L.fields - 1), { name: "…", value: `${fields.length - (L.fields - 1)} more fields (truncated)`, inline: false }];
    const e: Embed = { title: clip(sec.title, L.title), color: parseInt(priorityColor(sec.priority).slice(1), 16) || 0, footer: { text: clip(sec.footer, L.footer) } };
    if (sec.output !== undefined) e.description = clip(markdown.escape(sec.output), L.description);
    if (fields.length > 0) e.fields = fields;
    return e;
  });
  const payload: DiscordPayload = { ...extra, embeds, allowed_mentions: { parse: [] } };
  const lines = [omittedNote(parts), parts.digest].filter((x): x is string => x !== undefined).map((x) => markdown.escape(x));
  if (lines.length > 0) payload.content = clip(lines.join("\n"), L.content);
  return payload;
}

function embedChars(e: Embed): number {
  return e.title.length + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
}

/** Discord webhooks: one message of embeds per send (one embed per alert shown); bursts become digests. */
export const discordOutput = defineOutput({
  type: "discord",
  chat: true,
  summary: "Posts alerts to a Discord channel through a webhook, as embeds coloured by priority; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The channel webhook URL (a secret: prefer ${DISCORD_WEBHOOK_URL})."),
    username: s.string().optional().describe("Sender name override."),
    icon: s.string().asUrl().optional().describe("Sender avatar image URL."),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  // Discord allows 5 requests per 2 seconds per webhook and about 30 messages a minute per channel.
  laneDefaults: chatLaneDefaults(0.5, 5),
  create(config) {
    const extra: Pick<DiscordPayload, "username" | "avatar_url"> = {};
    if (config.username !== undefined) extra.username = config.username;
    if (config.icon !== undefined) extra.avatar_url = config.icon;
    return createChatOutput({
      service: "Discord",
      url: config.webhook_url,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => render(parts, extra),
      fits: (p) => p.embeds.length <= L.embeds && p.embeds.reduce((n, e) => n + embedChars(e), 0) <= L.embedTotal,
    });
  },
});

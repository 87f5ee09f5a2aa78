import { s } from "../../src/config/schema.js";
import { defineOutput } from "../../src/delivery/output.js";
import { byteLength, chatFields, omittedNote, type ChatFormat, type MessageParts } from "../chat/message.js";
import { chatLaneDefaults, createChatOutput } from "../chat/output.js";

/** Teams refuses a webhook message larger than 28 KB. */
export const TEAMS_MESSAGE_BYTES = 28 * 1024;

const COLOR: Record<string, string> = { emergency: "attention", alert: "attention", critical: "attention", error: "attention", warning: "warning" };

type Element = Record<string, unknown>;

function textBlock(text: string, extra: Element = {}): Element {
  return { type: "TextBlock", text, wrap: true, ...extra };
}

function card(parts: MessageParts, activityImage: string | undefined): Record<string, unknown> {
  const body: Element[] = [];
  for (const sec of parts.sections) {
    const title = textBlock(sec.title, { weight: "Bolder", size: "Medium", color: COLOR[sec.priority.toLowerCase()] ?? "default" });
    if (activityImage !== undefined)
      body.push({ type: "ColumnSet", columns: [{ type: "Column", width: "auto", items: [{ type: "Image", url: activityImage, size: "Small" }] }, { type: "Column", width: "stretch", items: [title] }] });
    else body.push(title);
    if (sec.output !== undefined) body.push(textBlock(sec.output));
    if (sec.fields.length > 0) body.push({ type: "FactSet", facts: sec.fields.map((f) => ({ title: f.name, value: f.value })) });
    body.push(textBlock(sec.footer, { isSubtle: true, size: "Small", spacing: "None" }));
  }
  const note = omittedNote(parts);
  if (note) body.push(textBlock(note, { isSubtle: true }));
  if (parts.digest !== undefined) body.push(textBlock(parts.digest, { weight: "Bolder", separator: true }));
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: { $schema: "http://adaptivecards.io/schemas/adaptive-card.json", type: "AdaptiveCard", version: "1.4", body, msteams: { width: "Full" } },
      },
    ],
  };
}

/** Microsoft Teams webhooks (Workflows, or a legacy connector): one Adaptive Card per send; bursts become digests. */
export const teamsOutput = defineOutput({
  type: "teams",
  chat: true,
  summary: "Posts alerts to a Microsoft Teams channel through a webhook, as Adaptive Cards; bursts become digests.",
  schema: s.object({
    webhook_url: s.string().asUrl().describe("The Workflows (or connector) webhook URL (a secret: prefer ${TEAMS_WEBHOOK_URL})."),
    activity_image: s.string().asUrl().optional().describe("Image shown beside each alert's title."),
    ...chatFields,
  }),
  rateLimitedTarget: (config) => config.webhook_url,
  // Teams throttles a webhook past a few messages per second; one per second leaves room.
  laneDefaults: chatLaneDefaults(1, 4),
  create(config) {
    return createChatOutput({
      service: "Teams",
      url: config.webhook_url,
      format: config.format as ChatFormat,
      digest: config.digest,
      render: (parts) => card(parts, config.activity_image),
      fits: (p) => byteLength(JSON.stringify(p)) <= TEAMS_MESSAGE_BYTES,
    });
  },
});

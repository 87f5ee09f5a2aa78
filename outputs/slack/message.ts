/**
 * Turns a batch of alerts into one Slack message. The lane hands this output a batch
 * only when alerts queued up behind the rate limit, so:
 * - one alert: the alert template;
 * - a few (fewer than digest.min_alerts): each alert in full, one attachment each;
 * - a burst: the most severe alert in full, then a digest of the rest
 *   ("37 more alerts in the last minute: 30 × Read sensitive file untrusted, …").
 * Whatever the templates render is then fitted to Slack's limits.
 */
import type { Alert } from "../../src/alert.js";
import { errorMessage } from "../../src/errors.js";
import { jsonEscape, priorityColor, toText, type CompiledTemplate } from "../../src/templates/index.js";
import { digestContext, mostSevere } from "../chat/digest.js";
import { fitToSlackLimits, type SlackPayload } from "./limits.js";

// The digest is shared by every chat output; re-exported for the Slack tests and templates docs.
export { describeSpan, digestContext, type DigestContext } from "../chat/digest.js";

export type SlackFormat = "all" | "text" | "fields";

export interface SlackMessageOptions {
  alertTemplate: CompiledTemplate;
  digestTemplate: CompiledTemplate;
  format: SlackFormat;
  digest: { enabled: boolean; min_alerts: number; max_rules: number };
  channel?: string | undefined;
  username?: string | undefined;
  /** An emoji code (`:eagle:`) or an image URL. */
  icon?: string | undefined;
}

/** Slack reads `&`, `<` and `>` as markup (`<!channel>` pings everyone): alert text must not. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The escaping Slack templates compile with: mrkdwn first, then JSON string. */
export const slackTemplateEscape = (text: string): string => jsonEscape(slackEscape(text));

export interface BuiltMessage {
  payload: SlackPayload;
  truncated: boolean;
  /** How many alerts the message shows in full; the rest are counted in a digest. */
  shownInFull: number;
}

export function buildSlackMessage(batch: readonly Alert[], options: SlackMessageOptions, now = Date.now()): BuiltMessage {
  if (batch.length === 0) throw new Error("empty batch");
  let payload: SlackPayload;
  let shownInFull: number;
  if (batch.length === 1) {
    payload = renderAlert(batch[0]!, options);
    shownInFull = 1;
  } else if (options.digest.enabled && batch.length >= options.digest.min_alerts) {
    const leadIndex = mostSevere(batch);
    const rest = batch.filter((_, i) => i !== leadIndex);
    const digest = renderDigest(batch, rest, options, now);
    payload = merge([renderAlert(batch[leadIndex]!, options), digest]);
    if (typeof digest.text === "string") payload.text = digest.text;
    shownInFull = 1;
  } else {
    const parts = batch.map((a) => renderAlert(a, options));
    payload = merge(parts);
    if (typeof payload.text === "string") payload.text += ` (+${batch.length - 1} more)`;
    shownInFull = batch.length;
  }
  if (options.channel !== undefined) payload.channel = options.channel;
  if (options.username !== undefined) payload.username = options.username;
  if (options.icon !== undefined) {
    if (/^:[^:\s]+:$/.test(options.icon)) payload.icon_emoji = options.icon;
    else payload.icon_url = options.icon;
  }
  const fitted = fitToSlackLimits(payload);
  return { payload: fitted.payload, truncated: fitted.truncated, shownInFull };
}

function renderAlert(alert: Alert, options: SlackMessageOptions): SlackPayload {
  // Enrichment's custom and templated fields (docs/enrich.md) show after the producer's fields.
  const entries = alert.custom_fields ? [...Object.entries(alert.output_fields), ...Object.entries(alert.custom_fields)] : Object.entries(alert.output_fields);
  const fields = entries.map(([name, value]) => ({ name, value: toText(value) }));
  try {
    return parsePayload(options.alertTemplate.render({ ...alert, format: options.format, fields }));
  } catch (err) {
    return fallbackPayload(alert, errorMessage(err));
  }
}

/** A template that renders invalid JSON for some alert must not lose that alert: send it plainly, with the reason. */
function fallbackPayload(alert: Alert, reason: string): SlackPayload {
  const line = slackEscape(`${alert.priority}: ${alert.rule}${alert.hostname ? ` on ${alert.hostname}` : ""}`);
  return {
    text: line,
    attachments: [
      {
        color: priorityColor(alert.priority),
        fallback: line,
        text: `${slackEscape(alert.output || alert.rule)}\n_${slackEscape(`(${alert.time} · ${alert.uuid}; the Slack template failed for this alert: ${reason})`)}_`,
      },
    ],
  };
}

function parsePayload(text: string): SlackPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`the template rendered invalid JSON (${errorMessage(err)})`, { cause: err });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("the template must render a JSON object");
  return parsed as SlackPayload;
}

function merge(parts: SlackPayload[]): SlackPayload {
  const out: SlackPayload = { ...parts[0]! };
  const attachments: unknown[] = [];
  const blocks: unknown[] = [];
  for (const p of parts) {
    if (Array.isArray(p.attachments)) attachments.push(...p.attachments);
    if (Array.isArray(p.blocks)) blocks.push(...p.blocks);
  }
  if (attachments.length > 0) out.attachments = attachments;
  if (blocks.length > 0) out.blocks = blocks;
  return out;
}

function renderDigest(all: readonly Alert[], rest: readonly Alert[], options: SlackMessageOptions, now: number): SlackPayload {
  const ctx = digestContext(all, rest, options.digest.max_rules, now);
  try {
    return parsePayload(options.digestTemplate.render(ctx));
  } catch (err) {
    const list = ctx.rules.map((r) => `${r.count} × ${r.rule}`).join(", ");
    return {
      text: slackEscape(`${ctx.count} alerts ${ctx.span}`),
      attachments: [
        {
          color: priorityColor(ctx.highest),
          text: slackEscape(`${ctx.more} more alerts ${ctx.span}: ${list}${ctx.other_rules ? `, and ${ctx.other_alerts} more from ${ctx.other_rules} other rules` : ""} (the digest template failed: ${errorMessage(err)})`),
        },
      ],
    };
  }
}

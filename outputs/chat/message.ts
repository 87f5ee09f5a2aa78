/**
 * The parts of a chat message every chat output renders in its own markup: one section per
 * alert shown in full (title, output line, fields, a time · uuid line) and a digest line.
 * Texts are cut to a budget; `fitMessage` lowers the budget until the service's limits hold,
 * then drops whole sections with a visible note, so an oversized alert is sent cut rather than
 * refused by the service and lost.
 */
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { toText, truncateText } from "../../src/templates/index.js";
import { digestFields, digestLine, planMessage, type DigestSettings, type MessagePlan } from "./digest.js";

export type ChatFormat = "all" | "text" | "fields";

/** Keys every chat output but Slack takes the same way. */
export const chatFields = {
  format: s.string().oneOf(["all", "text", "fields"]).default("all").describe("all: output line and fields; text: the output line only; fields: the fields only."),
  digest: s.object(digestFields).describe("Digest of bursts (see docs/outputs/slack.md: the same rules for every chat output)."),
};

export interface AlertSection {
  /** "Critical: Terminal shell in container on node-1". */
  title: string;
  priority: string;
  output?: string;
  fields: { name: string; value: string }[];
  /** "2026-12-07T22:54:00Z · <uuid>": how a reader finds the alert in Peregrine. */
  footer: string;
}

export interface MessageParts {
  sections: AlertSection[];
  /** The digest line, when the batch was a burst. */
  digest?: string;
  /** Sections left out to fit the service's limits (counted in a note). */
  omitted: number;
  truncated: boolean;
}

const MARK = "… (truncated)";

/** Cuts to `max` characters; no alert text (title, output, fields) may ping anyone. */
function cut(text: string, max: number, state: { truncated: boolean }): string {
  text = quietMentions(text);
  if (text.length <= max) return text;
  state.truncated = true;
  return truncateText(text, max, MARK);
}

function section(alert: Alert, format: ChatFormat, budget: number, state: { truncated: boolean }): AlertSection {
  const entries = alert.custom_fields ? [...Object.entries(alert.output_fields), ...Object.entries(alert.custom_fields)] : Object.entries(alert.output_fields);
  const fieldBudget = Math.max(16, Math.floor(budget / 4));
  return {
    title: cut(`${alert.priority}: ${alert.rule}${alert.hostname ? ` on ${alert.hostname}` : ""}`, Math.max(64, Math.min(budget, 240)), state),
    priority: alert.priority,
    ...(format !== "fields" ? { output: cut(alert.output || alert.rule, budget, state) } : {}),
    fields: format === "text" ? [] : entries.map(([name, value]) => ({ name: cut(name, 200, state), value: cut(toText(value) || "-", fieldBudget, state) })),
    footer: `${alert.time} · ${alert.uuid}`,
  };
}

export function messageParts(plan: MessagePlan, format: ChatFormat, budget: number, keep = plan.full.length): MessageParts {
  const state = { truncated: keep < plan.full.length };
  const parts: MessageParts = { sections: plan.full.slice(0, keep).map((a) => section(a, format, budget, state)), omitted: plan.full.length - keep, truncated: false };
  if (plan.digest) parts.digest = cut(digestLine(plan.digest), Math.max(200, budget), state);
  parts.truncated = state.truncated;
  return parts;
}

/**
 * Renders `plan` with `render` at shrinking budgets until `fits` holds; then drops sections
 * from the end. Throws only if even one bare section cannot fit (a limit below any message).
 */
export function fitMessage<P>(plan: MessagePlan, format: ChatFormat, render: (parts: MessageParts) => P, fits: (payload: P) => boolean): { payload: P; truncated: boolean } {
  for (let budget = 3000; budget >= 32; budget = Math.floor(budget / 2)) {
    const parts = messageParts(plan, format, budget);
    const payload = render(parts);
    if (fits(payload)) return { payload, truncated: parts.truncated };
  }
  for (let keep = plan.full.length - 1; keep >= 1; keep--) {
    const parts = messageParts(plan, format, 32, keep);
    const payload = render(parts);
    if (fits(payload)) return { payload, truncated: true };
  }
  throw new Error("the message does not fit the service's limits even cut short");
}

/** The note for sections left out. */
export function omittedNote(parts: MessageParts): string | undefined {
  return parts.omitted > 0 ? `… ${parts.omitted} more alert${parts.omitted === 1 ? "" : "s"} not shown (truncated to the service's message limits)` : undefined;
}

/** Chat services read `@all`, `@here`, `@channel` as pings: alert text must not ping anyone. */
export function quietMentions(text: string): string {
  return text.replace(/@(?=[\w-])/g, "@\u200b");
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export { planMessage, type DigestSettings, type MessagePlan };

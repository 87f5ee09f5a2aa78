/**
 * What one chat message shows for a batch, shared by every chat output (Slack, Teams,
 * Discord, ...). The lane hands a chat output a batch only when alerts queued up behind its
 * rate limit, so:
 * - one alert, or fewer than digest.min_alerts: each alert in full;
 * - a burst: the most severe alert in full, then a digest of the rest
 *   ("37 more alerts in the last minute: 30 × Read sensitive file untrusted, …").
 */
import { priorityRank, type Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { parseTime } from "../../src/templates/index.js";

export interface DigestSettings {
  enabled: boolean;
  min_alerts: number;
  max_rules: number;
}

/** The digest keys every chat output takes (Slack adds its template_file). */
export const digestFields = {
  enabled: s.boolean().default(true).describe("Summarize a burst of alerts in one message instead of flooding the channel."),
  min_alerts: s.int().range(2).default(3).describe("A batch of at least this many alerts is sent as a digest."),
  max_rules: s.int().range(1, 50).default(10).describe("Rules listed by name in a digest; the rest are counted."),
};

/** The first alert of the highest severity. */
export function mostSevere(batch: readonly Alert[]): number {
  let best = 0;
  for (let i = 1; i < batch.length; i++) if (priorityRank(batch[i]!.priority) < priorityRank(batch[best]!.priority)) best = i;
  return best;
}

/** "in the last minute", "in the last 5 minutes", "in the last 2 hours": since the oldest alert of the batch. */
export function describeSpan(batch: readonly Alert[], now: number): string {
  let oldest = now;
  for (const a of batch) {
    const t = parseTime(a.time);
    if (t && t.epochMs < oldest) oldest = t.epochMs;
  }
  const seconds = Math.max(0, (now - oldest) / 1000);
  if (seconds <= 60) return "in the last minute";
  if (seconds < 3600) return `in the last ${Math.ceil(seconds / 60)} minutes`;
  const hours = Math.ceil(seconds / 3600);
  return `in the last ${hours} hour${hours === 1 ? "" : "s"}`;
}

export interface DigestContext {
  count: number;
  more: number;
  span: string;
  highest: string;
  rules: { rule: string; count: number }[];
  other_rules: number;
  other_alerts: number;
  priorities: { priority: string; count: number }[];
}

export function digestContext(all: readonly Alert[], rest: readonly Alert[], maxRules: number, now: number): DigestContext {
  const byRule = new Map<string, number>();
  for (const a of rest) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);
  // Stable sort: equal counts keep the order the rules first appeared in.
  const rules = [...byRule].map(([rule, count]) => ({ rule, count })).sort((x, y) => y.count - x.count);
  const shown = rules.slice(0, maxRules);
  const hidden = rules.slice(maxRules);
  const byPriority = new Map<string, number>();
  for (const a of all) byPriority.set(a.priority, (byPriority.get(a.priority) ?? 0) + 1);
  const priorities = [...byPriority]
    .map(([priority, count]) => ({ priority, count }))
    .sort((x, y) => priorityRank(x.priority as Alert["priority"]) - priorityRank(y.priority as Alert["priority"]));
  return {
    count: all.length,
    more: rest.length,
    span: describeSpan(all, now),
    highest: priorities[0]!.priority,
    rules: shown,
    other_rules: hidden.length,
    other_alerts: hidden.reduce((n, r) => n + r.count, 0),
    priorities,
  };
}

/** The one-line summary of a digest, in plain text. */
export function digestLine(ctx: DigestContext): string {
  const list = ctx.rules.map((r) => `${r.count} × ${r.rule}`).join(", ");
  const others = ctx.other_rules ? `, and ${ctx.other_alerts} more from ${ctx.other_rules} other rule${ctx.other_rules === 1 ? "" : "s"}` : "";
  return `${ctx.more} more alert${ctx.more === 1 ? "" : "s"} ${ctx.span}: ${list}${others}`;
}

export interface MessagePlan {
  /** Alerts shown in full, the most severe first when there is a digest. */
  full: Alert[];
  digest?: DigestContext;
}

/** Splits a batch into what one message shows in full and what it summarizes. */
export function planMessage(batch: readonly Alert[], digest: DigestSettings, now = Date.now()): MessagePlan {
  if (batch.length === 0) throw new Error("empty batch");
  if (batch.length === 1 || !digest.enabled || batch.length < digest.min_alerts) return { full: [...batch] };
  const lead = mostSevere(batch);
  const rest = batch.filter((_, i) => i !== lead);
  return { full: [batch[lead]!], digest: digestContext(batch, rest, digest.max_rules, now) };
}

import { s, type ParseContext } from "../config/schema.js";
import { DEDUP_DEFAULT_KEY, THROTTLE_DEFAULT_KEY, keyFieldProblem } from "./keys.js";

function checkKey(key: readonly string[], ctx: ParseContext, path: string): void {
  key.forEach((name, i) => {
    const problem = keyFieldProblem(name);
    if (problem) ctx.error(`${path}.key[${i}]`, problem);
  });
}

/** `dedup:` of an output: repeats of one key within a window are suppressed and summarized. */
export const dedupShape = s
  .object({
    enabled: s.boolean().default(true).describe("false turns dedup off; chat outputs (slack, teams, discord, mattermost, googlechat, rocketchat, telegram, webex) have it on unless this says false."),
    window: s.duration().range(100, 7 * 86_400_000).default(60_000).describe("How long after an alert its repeats are suppressed; a summary follows when it closes."),
    key: s
      .array(s.string().notEmpty())
      .default([...DEDUP_DEFAULT_KEY])
      .describe("Fields that make two alerts the same: rule, priority, hostname, source, output (its time prefix ignored), tags, output_fields.<name>, custom_fields.<name>."),
    max_keys: s.int().range(1).default(10_000).describe("Most keys tracked at once; alerts of further keys pass unsuppressed."),
  })
  .refine((v, ctx, path) => checkKey(v.key, ctx, path))
  .describe("Deduplication (docs/routing.md).");

/** `throttle:` of an output: at most `limit` alerts per key per interval, the rest summarized. */
export const throttleShape = s
  .object({
    enabled: s.boolean().default(true).describe("false turns throttling off."),
    limit: s.int().range(1).default(10).describe("Alerts per key and interval that reach the output."),
    interval: s.duration().range(100, 7 * 86_400_000).default(60_000).describe("Length of one throttling interval; a summary follows when it closes."),
    key: s.array(s.string().notEmpty()).default([...THROTTLE_DEFAULT_KEY]).describe("Fields of the throttling key (as dedup.key); [] throttles the output as a whole."),
    max_keys: s.int().range(1).default(10_000).describe("Most keys tracked at once; alerts of further keys pass unthrottled."),
  })
  .refine((v, ctx, path) => checkKey(v.key, ctx, path))
  .describe("Throttling (docs/routing.md).");

export interface DedupConfig {
  enabled: boolean;
  window: number;
  key: string[];
  max_keys: number;
}

export interface ThrottleConfig {
  enabled: boolean;
  limit: number;
  interval: number;
  key: string[];
  max_keys: number;
}

/**
 * Outputs whose definition says `chat: true` turn dedup on unless configured: a storm of one
 * alert in a channel hides everything else. One minute per rule, host and output line.
 */
export const CHAT_DEDUP_DEFAULT: DedupConfig = { enabled: true, window: 60_000, key: [...DEDUP_DEFAULT_KEY], max_keys: 10_000 };

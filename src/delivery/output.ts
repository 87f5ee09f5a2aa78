import type { Logger } from "pino";
import type { Alert } from "../alert.js";
import type { ObjectSchema, Shape, InferShape, ParseContext } from "../config/schema.js";

/** What an output says about one send. The lane, never the output, acts on it. */
export type SendResult =
  | { kind: "ok" }
  /** 429, 5xx, timeouts, network errors: worth trying again later. */
  | { kind: "retry"; reason: string; retryAfterMs?: number; status?: number }
  /** A permanent refusal (most 4xx): retrying cannot help; goes to the dead-letter store. */
  | { kind: "reject"; reason: string; status?: number }
  /** Some alerts of the batch failed; `index` points into the batch that was sent. */
  | { kind: "partial"; failed: { index: number; result: SendResult }[] };

export interface Output {
  send(batch: readonly Alert[], signal: AbortSignal): Promise<SendResult>;
  /** Checked at start: a failure is logged as a clear line; alerts wait in the journal meanwhile. */
  healthcheck?(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface OutputContext {
  /** The output's configured name, unique in the config. */
  name: string;
  logger: Logger;
  /** The directory for files an output may keep (e.g. the file output's default path). */
  dataDir: string;
  /** The lane's batch.max_events: an output whose body shape depends on batching (a JSON
   * array or one object) must not change shape with how many alerts a send happens to hold. */
  batchMaxEvents?: number;
}

/** Lane settings an output type may change the defaults of (e.g. S3 batches bigger, Slack sends slower). */
export interface LaneDefaults {
  batch?: { max_events?: number; max_bytes?: number; max_wait_ms?: number };
  concurrency?: number;
  rate_limit?: { per_second: number; burst: number };
}

export interface OutputDefinition<S extends Shape = Shape> {
  /** The `type:` in config, e.g. "loki". */
  type: string;
  /** One line for docs and `config check`. */
  summary: string;
  /** The type's own keys (the lane keys name/type/batch/retry/... are added by the router). */
  schema: ObjectSchema<S>;
  laneDefaults?: LaneDefaults;
  /**
   * A chat service (a channel people read): its outputs get dedup by default (one message and
   * a count per rule, host and output line a minute; docs/routing.md), unless they configure it.
   */
  chat?: boolean;
  /** Extra checks `config check` runs (e.g. templates compile, a label is high-cardinality). */
  validate?(config: InferShape<S>, ctx: ParseContext, path: string): void;
  /**
   * What the service rate-limits by, when it does (a Slack webhook URL): each lane limits only
   * itself, so `config check` warns when two outputs of the type share one.
   */
  rateLimitedTarget?(config: InferShape<S>): string | undefined;
  create(config: InferShape<S>, ctx: OutputContext): Output;
}

/** Keeps the config type of a definition inferred from its schema at the definition site. */
export function defineOutput<S extends Shape>(def: OutputDefinition<S>): OutputDefinition<S> {
  return def;
}

/**
 * For a service that takes one alert per request: sends every alert of the batch at once and
 * folds the answers into one result (`partial` naming the alerts that did not go through).
 */
export async function sendEach(batch: readonly Alert[], sendOne: (alert: Alert) => Promise<SendResult>): Promise<SendResult> {
  if (batch.length === 1) return sendOne(batch[0]!);
  const results = await Promise.all(batch.map(sendOne));
  const failed = results.flatMap((result, index) => (result.kind === "ok" ? [] : [{ index, result }]));
  return failed.length === 0 ? { kind: "ok" } : { kind: "partial", failed };
}

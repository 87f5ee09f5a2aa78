import { PRIORITIES } from "../alert.js";
import { s, type InferShape } from "./schema.js";
import { dedupShape, throttleShape } from "../route/config.js";

const priorityChoices = [...PRIORITIES.map((p) => p.toLowerCase()), "info"];

/** Keys every output has, whatever its type: identity, routing and the lane's delivery policy. */
export const laneShape = {
  name: s.string().notEmpty().matches(/^[A-Za-z0-9_.-]+$/, "use letters, digits, _ . -").describe("Unique name of this output."),
  type: s.string().describe("The output type (loki, kafka, slack, s3, webhook, stdout, file, ...)."),
  minimum_priority: s
    .string()
    .oneOf(priorityChoices, { ignoreCase: true })
    .default("debug")
    .describe("Only alerts at least this severe (Falco's order) reach the output."),
  filter: s.string().optional().describe("A rule-language condition over the alert source; only matching alerts reach the output."),
  dedup: dedupShape.optional(),
  throttle: throttleShape.optional(),
  batch: s
    .object({
      max_events: s.int().range(1, 100_000).default(1).describe("Most alerts in one send."),
      max_bytes: s.bytes().range(1).default(1024 * 1024).describe("Most bytes (alert JSON) in one send."),
      max_wait_ms: s.duration().range(0).default(0).describe("How long a partial batch may wait for more alerts."),
    })
    .describe("Batching."),
  concurrency: s.int().range(1, 256).default(1).describe("Sends in flight at once; 1 keeps order strictly."),
  rate_limit: s
    .object({
      per_second: s.number().range(0).default(0).describe("Sends per second (token bucket); 0 is unlimited."),
      burst: s.int().range(1).default(1).describe("Sends allowed at once after idling."),
    })
    .describe("Rate limit, per output."),
  retry: s
    .object({
      initial_ms: s.duration().range(1).default(500).describe("First backoff; doubles per attempt, with full jitter."),
      max_ms: s.duration().range(1).default(60_000).describe("Longest backoff."),
      max_attempts: s.int().range(0).default(0).describe("Attempts before dead-lettering; 0 is unlimited (max_age still applies)."),
      max_age: s.duration().range(0).default(86_400_000).describe("Age after which an undelivered alert is dead-lettered; 0 is never."),
    })
    .describe("Retry policy."),
  circuit: s
    .object({
      failure_threshold: s.int().range(1).default(5).describe("Consecutive failed sends that open the circuit."),
      open_ms: s.duration().range(1).default(30_000).describe("How long the circuit stays open before a half-open probe."),
    })
    .describe("Circuit breaker."),
  timeout_ms: s.duration().range(1).default(30_000).describe("Deadline of one send; its signal aborts it."),
};

export type LaneConfig = Omit<InferShape<typeof laneShape>, "name" | "type" | "minimum_priority" | "filter">;

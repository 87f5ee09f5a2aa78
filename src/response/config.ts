import { s } from "../config/schema.js";

const rate = s
  .object({
    per_second: s.number().range(0).default(1).describe("Actions per second (token bucket); 0 is unlimited."),
    burst: s.int().range(1).default(10).describe("Actions allowed at once after a quiet spell."),
  })
  .describe("A rate limit: past it an action is refused and recorded as rate_limited, not queued.");

/** `response`: Falco Talon's rules run by the router itself (see docs/response.md). */
export const responseSchema = s
  .object({
    enabled: s.boolean().default(false).describe("Run response rules on accepted alerts."),
    rules_files: s.array(s.string().notEmpty()).default([]).describe("Falco Talon rules files, loaded in order (later items override or append)."),
    dry_run: s.boolean().default(false).describe("Record what every action would do, and run none (a rule's dry_run: true does the same for that rule)."),
    default_notifiers: s
      .array(s.string().notEmpty())
      .default([])
      .describe("Notifiers every rule notifies, besides its own `notifiers:`; a notifier is the name of an output, or a Talon notifier name (slack, loki, webhook, elasticsearch, smtp) taken as the first output of that type."),
    allowlist: s
      .object({
        namespaces: s.array(s.string().notEmpty()).default([]).describe("Namespaces no action may touch, besides kube-system, kube-public, kube-node-lease and the router's own."),
        pods: s.array(s.string().notEmpty()).default([]).describe("Pods (`namespace/name`) no action may touch, besides the router's own."),
        processes: s.array(s.string().notEmpty()).default([]).describe("Process names (comm) no process action may touch, besides pid 1, kernel threads, the router and its children."),
        containers: s.array(s.string().notEmpty()).default([]).describe("Container names or ids (a prefix of 12 characters or more) no container action may touch, besides the router's own."),
        nodes: s.array(s.string().notEmpty()).default([]).describe("Nodes no node action (cordon, drain) may touch."),
      })
      .describe("Targets no rule can act on; the built-in entries cannot be removed."),
    rate_limit: rate,
    rate_limits: s.record(rate).default({}).describe("Per-actionner rate limits by name (`process:kill: {per_second: 5, burst: 5}`), replacing rate_limit for it."),
    concurrency: s.int().range(1, 64).default(4).describe("Alerts whose actions run at once."),
    retry: s
      .object({
        initial_ms: s.duration().range(1).default(500).describe("First backoff before a failed action is tried again; doubles per attempt, with full jitter."),
        max_ms: s.duration().range(1).default(30_000).describe("Longest backoff."),
        max_attempts: s.int().range(1).default(5).describe("Attempts of an alert's actions before the alert is dead-lettered with the reason."),
        max_age: s.duration().range(0).default(600_000).describe("Age of an alert after which its failing actions are given up (dead-lettered); 0 is never."),
      })
      .describe("Retries of actions that failed with a transient error."),
    timeout_ms: s.duration().range(1).default(60_000).describe("Deadline of one alert's actions."),
    aws: s
      .object({
        region: s.string().optional().describe("Region of aws:s3 outputs and aws:lambda (else AWS_REGION or the default chain's)."),
        endpoint: s.string().optional().describe("An endpoint other than AWS's (a local S3 or Lambda service)."),
        access_key_id: s.string().optional().describe("Access key; else the default credentials chain."),
        secret_access_key: s.string().optional().describe("Secret key (use ${VAR} or ${file:PATH})."),
        session_token: s.string().optional().describe("Session token of temporary credentials."),
        force_path_style: s.boolean().default(false).describe("Path-style bucket addressing (most S3-compatible servers)."),
      })
      .optional()
      .describe("AWS connection of aws:s3 outputs and aws:lambda (Talon's `aws:` section)."),
    minio: s
      .object({
        endpoint: s.string().notEmpty().describe("URL of the S3-compatible store of minio:s3 outputs."),
        access_key: s.string().notEmpty().describe("Access key."),
        secret_key: s.string().notEmpty().describe("Secret key (use ${VAR} or ${file:PATH})."),
        region: s.string().optional().describe("Region the store answers for (default us-east-1)."),
      })
      .optional()
      .describe("The S3-compatible store of minio:s3 outputs (Talon's `minio:` section)."),
  })
  .describe("The response engine (see docs/response.md).");

/**
 * The response engine: matches a journaled alert against the response rules and runs their
 * actions, each at most once per alert and rule.
 *
 * For each action: an existing final record is the answer (never run again); a `started` or
 * `failed` record is run again on its recorded target only; otherwise the target is resolved,
 * checked against the allowlist, dry_run and the rate limit, recorded as `started` (fsynced),
 * and only then acted on; the outcome is recorded after. The engine answers the response lane
 * like an output: `retry` while an action failed with a transient error (the delivery policy
 * tries the alert again, the action on its recorded target), `reject` for a permanent failure
 * (the alert is dead-lettered with the reason), else `ok`.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Alert } from "../alert.js";
import type { SendResult } from "../delivery/output.js";
import { errorMessage } from "../errors.js";
import type { Actionner, ActionArtifact, ActionTarget } from "./actionner.js";
import { ruleMatches, type ResponseRule, type ResponseRuleset, type RuleAction } from "./rules.js";
import type { Allowlist, RateLimits } from "./safety.js";
import { FINAL_STATUSES, type ActionRecord, type ActionStatus, type ActionStore } from "./store.js";
import type { ResponseMetrics } from "./metrics.js";

/**
 * Writes an artifact to an action's `output:` target (aws:s3, minio:s3, local:file); returns
 * where. `time` names the object: the action's, so a write repeated after a crash lands once.
 * Throws an error with `retryable` when it did not write.
 */
export type ArtifactWriter = (target: string, parameters: Readonly<Record<string, unknown>>, artifact: ActionArtifact, options: { time: Date; signal: AbortSignal }) => Promise<string>;

/** Journals notification alerts for outputs (the router's accept with explicit outputs). */
export type Notify = (alert: Alert, outputs: readonly string[]) => Promise<void>;

export interface EngineOptions {
  ruleset: ResponseRuleset;
  actionners: ReadonlyMap<string, Actionner>;
  store: ActionStore;
  allowlist: Allowlist;
  rateLimits: RateLimits;
  logger: Logger;
  metrics?: ResponseMetrics;
  /** response.dry_run: every action recorded as what it would do. */
  dryRun: boolean;
  /** Notifier name → output names (default notifiers included per rule). */
  notifierOutputs?: (rule: ResponseRule) => string[];
  notify?: Notify;
  writeArtifact?: ArtifactWriter;
  /** A test hook: stop (until the signal aborts) after "started" is recorded, or after the action ran. */
  pauseAt?: "started" | "ran";
}

const MAX_ACCEPTED = 100_000;

export class ResponseEngine {
  private readonly accepted = new Map<string, number>();

  constructor(private readonly o: EngineOptions) {}

  get rules(): readonly ResponseRule[] {
    return this.o.ruleset.rules;
  }

  /** Whether any rule matches (asked at routing, so only those alerts are journaled for the response lane). */
  wants(alert: Alert): boolean {
    for (const r of this.o.ruleset.rules)
      if (ruleMatches(r, alert)) {
        if (this.accepted.size >= MAX_ACCEPTED) this.accepted.clear();
        this.accepted.set(alert.uuid, Date.now());
        return true;
      }
    return false;
  }

  /** Runs the actions of every matching rule for one alert. */
  async handle(alert: Alert, signal: AbortSignal): Promise<SendResult> {
    let retry: string | undefined;
    let reject: string | undefined;
    for (const rule of this.o.ruleset.rules) {
      if (!ruleMatches(rule, alert)) continue;
      this.o.metrics?.matched.inc({ rule: rule.name });
      for (let i = 0; i < rule.actions.length; i++) {
        const action = rule.actions[i]!;
        const rec = await this.runAction(alert, rule, i, action, signal);
        if (signal.aborted) return { kind: "retry", reason: "stopping" };
        if (rec.status === "failed") {
          const why = `rule "${rule.name}", action "${action.name}" (${action.actionner}): ${rec.message}`;
          if (rec.code === "RESPONSE_ACTION_RETRY") {
            retry ??= why;
            break;
          }
          if (!action.ignoreErrors) {
            reject ??= why;
            break;
          }
        } else if ((rec.status === "unresolved" || rec.status === "refused" || rec.status === "rate_limited") && !action.ignoreErrors) break;
        const actionner = this.o.actionners.get(action.actionner);
        if (!(action.continue ?? actionner?.continueByDefault ?? true)) break;
      }
      if (rule.continue === false) break;
    }
    this.accepted.delete(alert.uuid);
    if (retry !== undefined) return { kind: "retry", reason: retry };
    if (reject !== undefined) return { kind: "reject", reason: reject };
    return { kind: "ok" };
  }

  private async runAction(alert: Alert, rule: ResponseRule, index: number, action: RuleAction, signal: AbortSignal): Promise<ActionRecord> {
    const { store } = this.o;
    const existing = store.get(alert.uuid, rule.name, index);
    if (existing && FINAL_STATUSES.has(existing.status)) return existing;
    const now = Date.now();
    const base: Omit<ActionRecord, "id"> = existing ?? {
      alert_uuid: alert.uuid,
      alert_rule: alert.rule,
      alert_priority: alert.priority,
      alert_time: alert.time,
      rule: rule.name,
      action_index: index,
      action: action.name,
      actionner: action.actionner,
      status: "started",
      parameters: action.parameters,
      message: "",
      attempts: 0,
      created_at: now,
    };
    const acceptedAt = existing?.accepted_at ?? this.accepted.get(alert.uuid);
    if (acceptedAt !== undefined) base.accepted_at = acceptedAt;
    const actionner = this.o.actionners.get(action.actionner);
    if (!actionner) return this.finish(base, rule, "failed", `no actionner named ${action.actionner}`, "RESPONSE_ACTION_FAILED");

    let target: ActionTarget;
    if (existing?.target) {
      // After a crash or a failed attempt: the recorded target, never a newly resolved one.
      target = existing.target;
    } else {
      let resolved;
      try {
        resolved = await actionner.resolve(alert, action.parameters);
      } catch (err) {
        resolved = { ok: false as const, code: "RESPONSE_TARGET_UNRESOLVED", message: errorMessage(err) };
      }
      if (!resolved.ok) return this.finish(base, rule, resolved.code === "RESPONSE_TARGET_GONE" ? "gone" : "unresolved", resolved.message, resolved.code);
      target = resolved.target;
      base.target = target;
      const refusal = this.o.allowlist.refusal(target);
      if (refusal) return this.finish(base, rule, "refused", `refused: ${target.description}: ${refusal}`, "RESPONSE_REFUSED");
      if (this.o.dryRun || rule.dryRun)
        return this.finish(base, rule, "dry_run", `dry run (${this.o.dryRun ? "response.dry_run" : "the rule's dry_run"}): would run ${action.actionner} on ${target.description}`);
      if (!this.o.rateLimits.take(action.actionner))
        return this.finish(base, rule, "rate_limited", `refused: ${action.actionner} is past its rate limit (${this.o.rateLimits.describe(action.actionner)})`, "RESPONSE_RATE_LIMITED");
    }
    // Durable before acting: a crash from here on is re-run on this target, and only on it.
    base.status = "started";
    base.attempts += 1;
    base.started_at = Date.now();
    base.message = `${action.actionner} on ${target.description}`;
    delete base.code;
    store.put(base);
    this.o.logger.info({ alert: alert.uuid, rule: rule.name, action: action.name, actionner: action.actionner, target: target.description, attempt: base.attempts }, "response: action started");
    if (this.o.pauseAt === "started") await pause(this.o.logger, "started", signal);

    let result;
    const t0 = performance.now();
    try {
      result = await actionner.run({ alert, parameters: action.parameters, target, signal });
    } catch (err) {
      result = { status: "failed" as const, code: "RESPONSE_ACTION_FAILED", message: `the actionner threw: ${errorMessage(err)}`, retryable: true };
    }
    this.o.metrics?.duration.observe({ actionner: action.actionner }, (performance.now() - t0) / 1000);
    if (this.o.pauseAt === "ran") await pause(this.o.logger, "ran", signal);
    if (signal.aborted && result.status === "failed") {
      // Cut by shutdown: no verdict; the record stays "started" and is run again at the next start.
      return { ...base, id: 0, status: "failed", code: "RESPONSE_ACTION_RETRY", message: "stopping" };
    }

    if (result.status === "done") {
      const objects: Record<string, string> = { ...(result.objects ?? {}) };
      if (result.artifacts?.length && action.output?.target) {
        if (!this.o.writeArtifact) return this.finish(base, rule, "failed", `${result.message}; but no writer for output ${action.output.target}`, "RESPONSE_ACTION_FAILED");
        for (const artifact of result.artifacts) {
          try {
            objects[`${action.output.target}:${artifact.name}`] = await this.o.writeArtifact(action.output.target, action.output.parameters, artifact, { time: new Date(base.created_at), signal });
          } catch (err) {
            const retryable = (err as { retryable?: unknown }).retryable !== false;
            return this.finish(base, rule, "failed", `${result.message}; writing ${artifact.name} to ${action.output.target} failed: ${errorMessage(err)}`, retryable ? "RESPONSE_ACTION_RETRY" : "RESPONSE_ACTION_FAILED");
          }
        }
      }
      if (Object.keys(objects).length > 0) base.objects = objects;
      return this.finish(base, rule, "done", result.message);
    }
    if (result.status === "gone") return this.finish(base, rule, "gone", result.message);
    return this.finish(base, rule, "failed", result.message, result.retryable ? "RESPONSE_ACTION_RETRY" : result.code);
  }

  /** Records the outcome (durable), counts it, logs it and notifies. */
  private finish(base: Omit<ActionRecord, "id">, rule: ResponseRule, status: ActionStatus, message: string, code?: string): ActionRecord {
    base.status = status;
    base.message = message;
    if (code !== undefined) base.code = code;
    else delete base.code;
    base.finished_at = Date.now();
    if (status !== "failed" && base.attempts === 0 && base.started_at === undefined) base.started_at = base.finished_at;
    const rec = this.o.store.put(base);
    const m = this.o.metrics;
    if (m) {
      m.actions.inc({ actionner: rec.actionner, status });
      if (status === "done" && rec.accepted_at !== undefined) m.latency.observe({ actionner: rec.actionner }, (rec.finished_at! - rec.accepted_at) / 1000);
    }
    const level = status === "done" || status === "dry_run" || status === "gone" ? "info" : status === "failed" && code === "RESPONSE_ACTION_RETRY" ? "warn" : "error";
    this.o.logger[level](
      { alert: rec.alert_uuid, rule: rec.rule, action: rec.action, actionner: rec.actionner, status, target: rec.target?.description, code },
      `response: action recorded: ${rec.action} (${rec.actionner}) ${status}: ${message}`,
    );
    void this.notify(rec, rule);
    return rec;
  }

  private async notify(rec: ActionRecord, rule: ResponseRule): Promise<void> {
    const outputs = this.o.notifierOutputs?.(rule) ?? [];
    if (!this.o.notify || outputs.length === 0) return;
    try {
      await this.o.notify(notification(rec), outputs);
    } catch (err) {
      this.o.logger.warn({ rule: rec.rule, action: rec.action }, `response: notifying ${outputs.join(", ")} failed: ${errorMessage(err)}`);
    }
  }
}

/** The alert a notifier output receives for an action's outcome; its uuid is stable per outcome. */
export function notification(rec: ActionRecord): Alert {
  const h = createHash("sha256").update(`${rec.alert_uuid}\n${rec.rule}\n${rec.action_index}\n${rec.status}`).digest("hex");
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const fields: Record<string, string | number> = {
    "response.rule": rec.rule,
    "response.action": rec.action,
    "response.actionner": rec.actionner,
    "response.status": rec.status,
    "response.message": rec.message,
    "response.alert_uuid": rec.alert_uuid,
    "response.alert_rule": rec.alert_rule,
    "response.attempts": rec.attempts,
  };
  if (rec.target) fields["response.target"] = rec.target.description;
  if (rec.code) fields["response.code"] = rec.code;
  for (const [k, v] of Object.entries(rec.objects ?? {})) fields[`response.objects.${k}`] = v;
  return {
    uuid,
    time: new Date(rec.finished_at ?? Date.now()).toISOString(),
    priority: rec.status === "done" || rec.status === "dry_run" ? "Notice" : "Warning",
    rule: `Response: ${rec.rule}`,
    output: `${rec.action} (${rec.actionner}) ${rec.status}${rec.target ? ` on ${rec.target.description}` : ""}: ${rec.message}`,
    output_fields: fields,
    source: "response",
    tags: ["response", rec.actionner, rec.status],
    hostname: "",
  };
}

async function pause(logger: Logger, at: string, signal: AbortSignal): Promise<void> {
  logger.warn(`response: test hook: paused after "${at}"`);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

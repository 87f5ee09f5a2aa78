/**
 * The response engine joined to the router: a lane named `response` that the journal feeds
 * with the alerts a response rule matches, so an action is a delivery like any other —
 * journaled, retried by the lane's policy, dead-lettered with the reason.
 */
import { hostname } from "node:os";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config, OutputConfig } from "../config/index.js";
import { s } from "../config/schema.js";
import { defineOutput, type Output, type SendResult } from "../delivery/output.js";
import { PeregrineError, type ErrorCode } from "../errors.js";
import type { Router } from "../router.js";
import type { Actionner } from "./actionner.js";
import { actionnerRegistry, OUTPUT_TARGETS } from "./actionners/index.js";
import { protectFromDrain } from "./actionners/kubernetes/index.js";
import { ResponseEngine, type ArtifactWriter } from "./engine.js";
import { ResponseMetrics } from "./metrics.js";
import { formatRulesMessage, loadResponseRules, type ResponseRule, type ResponseRuleset, type RulesCheck } from "./rules.js";
import { Allowlist, RateLimits, readSelf } from "./safety.js";
import { checkArtifactTarget, configureArtifactTargets, writeArtifact, type TargetsConfig } from "./targets.js";
import { ActionStore, type ListFilter } from "./store.js";

export const RESPONSE_LANE = "response";
/** Talon's notifier names that map onto the first output of the same type. */
const TALON_NOTIFIERS = ["slack", "loki", "webhook", "elasticsearch", "smtp", "k8sevents"];

export type ResponseConfig = NonNullable<Config["response"]>;

/** `withOutputs`: also check output parameters against the configured stores (the router does; `response validate` has no config). */
export function rulesCheck(actionners: ReadonlyMap<string, Actionner>, withOutputs = false): RulesCheck {
  return {
    checkActionner: (name, parameters) => actionners.get(name)?.checkParameters(parameters),
    knownActionners: () => [...actionners.keys()].sort(),
    outputTargets: OUTPUT_TARGETS,
    outputMode: (name) => actionners.get(name)?.output,
    ...(withOutputs ? { checkOutput: (target: string, parameters: Record<string, unknown>) => checkArtifactTarget(target, parameters) } : {}),
  };
}

/** Loads and checks rules files; throws RESPONSE_RULES_INVALID naming every error's file and line. */
export function loadRulesOrThrow(files: readonly string[], actionners: ReadonlyMap<string, Actionner>, logger?: Logger): ResponseRuleset {
  const set = loadResponseRules(files, rulesCheck(actionners, true));
  for (const w of set.warnings) logger?.warn(formatRulesMessage(w));
  if (set.errors.length > 0) throw new PeregrineError("RESPONSE_RULES_INVALID", `response rules have ${set.errors.length} error(s):\n${set.errors.map(formatRulesMessage).join("\n")}`);
  return set;
}

/** The problems of the configured response rules files, as config issues (`peregrine config check`). */
export function responseRulesIssues(config: Config): { path: string; message: string; severity: "error" | "warning"; code?: ErrorCode }[] {
  const rc = config.response;
  if (!rc?.enabled) return [];
  configureArtifactTargets(targetsConfig(rc));
  const set = loadResponseRules(rc.rules_files, rulesCheck(actionnerRegistry(), true));
  const issues: { path: string; message: string; severity: "error" | "warning"; code?: ErrorCode }[] = [];
  if (rc.rules_files.length === 0) issues.push({ path: "response.rules_files", message: "response is enabled with no rules file: nothing will run", severity: "warning" });
  const text = (m: (typeof set.errors)[number]) => formatRulesMessage(m).replace(/: (error|warning): /, ": ");
  for (const m of set.errors) issues.push({ path: "response.rules_files", message: text(m), severity: "error", code: "RESPONSE_RULES_INVALID" });
  for (const m of set.warnings) issues.push({ path: "response.rules_files", message: text(m), severity: "warning" });
  for (const rule of set.rules)
    for (const n of notifierOutputs(config, rule, rc.default_notifiers).unknown)
      issues.push({ path: "response.rules_files", message: `rule "${rule.name}": notifier "${n}" names no output and no output type: it is not notified`, severity: "warning" });
  return issues;
}

/** The outputs a rule notifies: an output's name, or a Talon notifier name taken as the first output of that type. */
export function notifierOutputs(config: Config, rule: Pick<ResponseRule, "notifiers">, defaults: readonly string[]): { outputs: string[]; unknown: string[] } {
  const outputs: string[] = [];
  const unknown: string[] = [];
  for (const n of [...new Set([...defaults, ...rule.notifiers])]) {
    const byName = config.outputs.find((o) => o.name === n);
    const byType = byName ?? config.outputs.find((o) => o.type === n);
    if (byType) outputs.push(byType.name);
    else unknown.push(n);
  }
  return { outputs: [...new Set(outputs)], unknown };
}

export interface InstalledResponse {
  engine: ResponseEngine;
  store: ActionStore;
  registerRoutes(app: FastifyInstance): void;
}

/**
 * Loads the rules, opens the action journal and adds the `response` lane to the router.
 * Call before router.start(). Options are for tests (extra actionners, the pause hook).
 */
export async function installResponse(
  router: Router,
  config: Config,
  logger: Logger,
  options: { actionners?: readonly Actionner[]; pauseAt?: "started" | "ran" } = {},
): Promise<InstalledResponse | undefined> {
  const rc = config.response;
  if (!rc?.enabled) return undefined;
  if (config.outputs.some((o) => o.name === RESPONSE_LANE))
    throw new PeregrineError("RESPONSE_RULES_INVALID", `an output is named "${RESPONSE_LANE}", the name of the response engine's lane: rename the output`);
  const log = logger.child({ component: "response" });
  configureArtifactTargets(targetsConfig(rc));
  const actionners = actionnerRegistry(options.actionners);
  const ruleset = loadRulesOrThrow(rc.rules_files, actionners, log);
  for (const rule of ruleset.rules) {
    const { unknown } = notifierOutputs(config, rule, rc.default_notifiers);
    for (const n of unknown)
      log.warn(`response rule "${rule.name}": notifier "${n}" names no output${TALON_NOTIFIERS.includes(n) ? ` and no output has type ${n}` : ""}: it is not notified`);
  }
  const store = new ActionStore(config.storage.path);
  const metrics = new ResponseMetrics(router.metrics.registry);
  metrics.rules.set(ruleset.rules.length);
  const notifiers = new Map<ResponseRule, string[]>();
  const pause = options.pauseAt ?? testPause();
  const allowlist = new Allowlist(rc.allowlist, readSelf());
  // A drain evicts many pods the rule never named: none the allowlist protects (the router's own, allowlisted namespaces and pods).
  protectFromDrain((pod) => allowlist.refusal({ kind: "pod", description: `pod ${pod.metadata.namespace}/${pod.metadata.name}`, identity: { namespace: pod.metadata.namespace, name: pod.metadata.name } }) !== undefined);
  const engine = new ResponseEngine({
    ruleset,
    actionners,
    store,
    allowlist,
    rateLimits: new RateLimits(rc.rate_limit, rc.rate_limits),
    logger: log,
    metrics,
    dryRun: rc.dry_run,
    notifierOutputs: (rule) => {
      let o = notifiers.get(rule);
      if (!o) notifiers.set(rule, (o = notifierOutputs(config, rule, rc.default_notifiers).outputs));
      return o;
    },
    notify: async (alert, outputs) => {
      await router.accept([{ ...alert, hostname: hostname() }], { outputs });
    },
    ...(pause ? { pauseAt: pause } : {}),
    writeArtifact: writeArtifact satisfies ArtifactWriter,
  });

  const output: Output = {
    async send(batch, signal): Promise<SendResult> {
      if (batch.length === 1) return engine.handle(batch[0]!, signal);
      const results = await Promise.all(batch.map((a) => engine.handle(a, signal)));
      const failed = results.flatMap((result, index) => (result.kind === "ok" ? [] : [{ index, result }]));
      return failed.length === 0 ? { kind: "ok" } : { kind: "partial", failed };
    },
    async close() {
      store.close();
    },
  };
  router.addInternalOutput(laneConfig(rc, output), output, (alert) => engine.wants(alert));
  log.info({ rules: ruleset.rules.length, actionners: [...actionners.keys()], dry_run: rc.dry_run }, `response: ${ruleset.rules.length} rule(s) loaded from ${rc.rules_files.join(", ")}`);
  return {
    engine,
    store,
    registerRoutes: (app) => registerResponseApi(app, store, ruleset),
  };
}

/** response.aws / response.minio, as the targets module takes them (Talon keeps them in its config too). */
function targetsConfig(rc: ResponseConfig): TargetsConfig {
  const out: TargetsConfig = {};
  if (rc.aws) {
    const a = rc.aws;
    out.aws = {
      ...(a.region ? { region: a.region } : {}),
      ...(a.endpoint ? { endpoint: a.endpoint } : {}),
      ...(a.access_key_id ? { access_key_id: a.access_key_id } : {}),
      ...(a.secret_access_key ? { secret_access_key: a.secret_access_key } : {}),
      ...(a.session_token ? { session_token: a.session_token } : {}),
      force_path_style: a.force_path_style,
    };
  }
  if (rc.minio) out.minio = { endpoint: rc.minio.endpoint, access_key: rc.minio.access_key, secret_key: rc.minio.secret_key, ...(rc.minio.region ? { region: rc.minio.region } : {}) };
  return out;
}

function testPause(): "started" | "ran" | undefined {
  const v = process.env.PEREGRINE_TEST_RESPONSE_PAUSE;
  return v === "started" || v === "ran" ? v : undefined;
}

function laneConfig(rc: ResponseConfig, output: Output): OutputConfig {
  const definition = defineOutput({ type: "response", summary: "The response engine's actions.", schema: s.object({}), create: () => output });
  return {
    name: RESPONSE_LANE,
    type: "response",
    minimum_priority: "Debug",
    options: {},
    definition,
    batch: { max_events: 1, max_bytes: 16 * 1024 * 1024, max_wait_ms: 0 },
    concurrency: rc.concurrency,
    rate_limit: { per_second: 0, burst: 1 },
    retry: { ...rc.retry },
    // One actionner failing must not hold the others back: the circuit never opens.
    circuit: { failure_threshold: 1_000_000_000, open_ms: 1000 },
    timeout_ms: rc.timeout_ms,
    dedup: undefined,
    throttle: undefined,
  };
}

/** GET /api/response: the action journal, newest first; ?status= &rule= &actionner= &alert= &limit=. */
export function registerResponseApi(app: FastifyInstance, store: ActionStore, ruleset: ResponseRuleset): void {
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>("/api/response", (req, reply) => {
    const q = req.query;
    const filter: ListFilter = {};
    for (const key of ["status", "rule", "actionner", "alert"] as const) {
      const v = q[key];
      if (Array.isArray(v)) return reply.code(400).send({ error: { code: "INGEST_INVALID_FIELD" satisfies ErrorCode, message: `${key}: give one value`, field: key } });
      if (v !== undefined) filter[key] = v;
    }
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      return reply.code(400).send({ error: { code: "INGEST_INVALID_FIELD" satisfies ErrorCode, message: "limit: an integer from 1 to 10000", field: "limit" } });
    filter.limit = limit;
    return { actions: store.list(filter), counts: store.counts(), rules: ruleset.rules.map((r) => ({ name: r.name, actions: r.actions.map((a) => `${a.name} (${a.actionner})`), dry_run: r.dryRun })) };
  });
}

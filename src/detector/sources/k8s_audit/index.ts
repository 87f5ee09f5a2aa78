/**
 * The k8s_audit source at run time: loads the detector's rules files (their k8s_audit rules
 * evaluate here, the syscall ones in the syscall detector) and serves the audit endpoint.
 */
import type { Logger } from "pino";
import { loadRules, defaultSources, type RuleSelectionStep } from "../../load.js";
import type { AppendOutput } from "../../loader/compile-rules.js";
import type { DetectorAlert, Ruleset } from "../../ruleset.js";
import type { Priority } from "../../../alert.js";
import type { K8sAuditConfig } from "./config.js";
import { startK8sAuditEndpoint, type K8sAuditEndpoint } from "./endpoint.js";
import { PeregrineError } from "../../../errors.js";

export { k8sAuditSchema, readK8sAuditConfig, type K8sAuditConfig } from "./config.js";
export { startK8sAuditEndpoint, alertUuid, type K8sAuditEndpoint, type K8sAuditStats } from "./endpoint.js";
export { parseAuditBody, AuditBodyError } from "./parse.js";
export { k8sAuditSource, type K8sAuditEvent } from "./source.js";

export interface K8sAuditOptions {
  config: K8sAuditConfig;
  rulesFiles: readonly string[];
  selection?: readonly RuleSelectionStep[];
  appendOutput?: readonly AppendOutput[];
  ruleMatching?: "first" | "all";
  /** falco.yaml's time_format_iso_8601 (default false): the output's time prefix. */
  timeFormatIso8601?: boolean;
  minimumPriority?: Priority;
  hostname?: string;
  logger: Logger;
  deliver(alerts: readonly (DetectorAlert & { uuid: string })[]): Promise<void>;
}

/** The rules did not load; the message names the first error's file, line and code. */
export class K8sAuditRulesError extends PeregrineError {
  constructor(message: string) {
    super("DETECTOR_RULES_INVALID", message);
    this.name = "K8sAuditRulesError";
  }
}

export interface K8sAuditRunning extends K8sAuditEndpoint {
  ruleset: Ruleset;
  /** Enabled k8s_audit rules. */
  rulesLoaded: number;
}

export async function startK8sAudit(opts: K8sAuditOptions): Promise<K8sAuditRunning> {
  const { ruleset, results } = loadRules({
    files: opts.rulesFiles,
    sources: defaultSources(),
    ...(opts.selection ? { selection: opts.selection } : {}),
    ...(opts.appendOutput ? { appendOutput: opts.appendOutput } : {}),
    ...(opts.ruleMatching ? { ruleMatching: opts.ruleMatching } : {}),
    ...(opts.timeFormatIso8601 !== undefined ? { timeFormatIso8601: opts.timeFormatIso8601 } : {}),
    ...(opts.minimumPriority ? { minimumPriority: opts.minimumPriority } : {}),
    ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
  });
  if (!results.ok) {
    const first = results.errors[0]!;
    throw new K8sAuditRulesError(
      `${first.position.file}:${first.position.line}:${first.position.column}: ${first.code}: ${first.message}` +
        (results.errors.length > 1 ? ` (and ${results.errors.length - 1} more errors)` : ""),
    );
  }
  const rulesLoaded = ruleset.rules.filter((r) => r.enabled && r.source === "k8s_audit").length;
  if (rulesLoaded === 0) {
    opts.logger.warn("detector.k8s_audit: no k8s_audit rule is loaded; list Falco's k8s_audit_rules.yaml in detector.rules_files");
  }
  const loopback = /^(127\.|::1$|localhost$)/.test(opts.config.address);
  if (!loopback && opts.config.tls.clientCa === undefined) {
    // anyone who reaches the port can make alerts: say so once, loudly
    opts.logger.warn(
      { address: opts.config.address },
      "detector.k8s_audit listens beyond loopback without detector.k8s_audit.tls.client_ca: anyone who reaches it can post audit events",
    );
  }
  const endpoint = await startK8sAuditEndpoint({ config: opts.config, ruleset, logger: opts.logger, deliver: opts.deliver });
  opts.logger.info({ url: endpoint.url, rules: rulesLoaded }, `k8s_audit: listening for audit events on ${endpoint.url}`);
  return Object.assign(endpoint, { ruleset, rulesLoaded });
}

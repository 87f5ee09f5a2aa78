/**
 * The rule engine's public API, for the router, the CLI and the syscall source.
 *
 *   loadRules({ files, sources, selection, appendOutput, minimumPriority, ruleMatching, hostname })
 *     -> { ruleset, results: { ok, errors, warnings } }
 *   ruleset.evaluate(source, event)   -> readonly DetectorAlert[]
 *   ruleset.eventTypes("syscall")     -> { all, types }   (the sensor's interest set)
 *   compileAlertFilter(text)          -> { ok: true, match(alert) } | { ok: false, errors }
 *
 * See docs/rules.md.
 */
export { loadRules, defaultSources, applySelection, expandRulesPaths, checkRulesOptions, RulesOptionsError } from "./load.js";
export type { LoadRulesOptions, LoadRulesResult, RuleSelectionStep } from "./load.js";
export { Ruleset } from "./ruleset.js";
export type { CompiledRule, DetectorAlert, EventTypeInterest, RulesetOptions } from "./ruleset.js";
export type { AppendOutput } from "./loader/compile-rules.js";
export { formatMessage, LoadResults, LOAD_ERROR_CODES, LOAD_WARNING_CODES } from "./loader/results.js";
export type { FilePos, LoadErrorCode, LoadMessage, LoadWarningCode } from "./loader/results.js";
export { compileAlertFilter } from "./alert-filter.js";
export type { AlertFilter, AlertFilterError } from "./alert-filter.js";
export { parseCondition, caretSnippet } from "./condition/parser.js";
export { printCondition } from "./condition/printer.js";
export type { EventSource, EventTypeCatalog, ExtractedValue, Extractor, FieldInfo, FieldType } from "./event.js";
export { SYSCALL_EVENT_TYPES, SYSCALL_FIELDS, SYSCALL_FIELD_LIST } from "./fields/syscall.js";
export { alertSource, ALERT_FIELDS } from "./sources/alert.js";
export { jsonSource, JSON_FIELDS } from "./sources/json.js";
export { replaySource, parseReplay, normalizeReplayEvent, ReplayFormatError } from "./sources/replay.js";
export type { ReplayEvent, ReplaySource } from "./sources/replay.js";
export { K8S_AUDIT_FIELDS, K8S_AUDIT_FIELD_LIST, K8S_AUDIT_PLUGIN_VERSIONS } from "./fields/k8s-audit.js";
export {
  k8sAuditSource,
  k8sAuditSchema,
  readK8sAuditConfig,
  startK8sAudit,
  startK8sAuditEndpoint,
  parseAuditBody,
  AuditBodyError,
  alertUuid,
} from "./sources/k8s_audit/index.js";
export type { K8sAuditConfig, K8sAuditEndpoint, K8sAuditEvent, K8sAuditRunning, K8sAuditStats } from "./sources/k8s_audit/index.js";
// the Kubernetes credentials (kubeconfig or in-cluster), shared with the response actionners
export { inClusterCredentials, kubeconfigCredentials, K8sConfigError } from "./metadata/k8s-client.js";
export type { K8sCredentials } from "./metadata/k8s-client.js";

/**
 * The `detector` config section. The config loader may plug `detectorSchema` in for the
 * section (today it accepts any value); `readDetectorConfig` validates on its own as well, so
 * the detector never starts on a malformed section.
 */
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parsePriority, PRIORITIES, type Priority } from "../../../alert.js";
import { joinPath, ParseContext, s } from "../../../config/schema.js";
import { checkRulesOptions, type RuleSelectionStep } from "../../load.js";
import type { AppendOutput } from "../../loader/compile-rules.js";
import { containerEnginesConfig, containerEnginesSchema, type ContainerEnginesConfig } from "../../metadata/engines.js";
import { kubernetesConfig, kubernetesSchema, type KubernetesConfig } from "../../metadata/k8s-config.js";
import { k8sAuditSchema } from "../k8s_audit/config.js";

export const DEFAULT_RING_BUFFER_BYTES = 8 * 1024 * 1024;

export const detectorSchema = s
  .object({
    enabled: s
      .any()
      .default("auto")
      .describe("auto (default): run the detector when the host can, else warn and run the router alone; true: required (exit 2 when the host cannot); false: off."),
    rules_files: s
      .array(s.string())
      .optional()
      .describe(
        "Rules files or directories, in load order (later files append to or override earlier ones). Default: Falco's stable rules shipped in rules/falco/; Peregrine's own rules/peregrine_rules.yaml loads only when listed.",
      ),
    rules: s.array(s.any()).default([]).describe("Rule selection steps as in falco.yaml: `- disable: {rule: NAME}`, `- enable: {tag: TAG}`; `*` is a wildcard."),
    append_output: s
      .array(s.any())
      .default([{ suggested_output: true }])
      .describe(
        "falco.yaml's append_output: extra output text and fields for matching rules. The default is Falco's: suggested_output appends container_id=%container.id, container_name, container_image_repository, container_image_tag, k8s_pod_name and k8s_ns_name to every syscall rule's output.",
      ),
    time_format_iso_8601: s
      .boolean()
      .default(false)
      .describe(
        "As falco.yaml's time_format_iso_8601: false (Falco's default) starts each alert's output with the local clock time (%evt.time, 21:14:11.104000000), true with UTC ISO 8601 (%evt.time.iso8601, 2026-12-07T21:14:11.104000000+0000); that field joins output_fields in nanoseconds since the epoch.",
      ),
    rule_matching: s
      .string()
      .default("first")
      .describe("As falco.yaml's rule_matching: first (default) raises one alert per event, from the first matching rule in load order; all raises one per matching rule."),
    priority: s
      .string()
      .optional()
      .describe("As falco.yaml's priority: rules less severe than this are loaded but never evaluated (e.g. warning). Default: every rule."),
    kernel_filter: s
      .boolean()
      .default(true)
      .describe(
        "Leave in the kernel the read-only opens that no loaded rule can match (by path, cwd or process name), and the closes of their descriptors (derived from the rules; off by itself when a rule could match any open). false: every open in the interest set reaches the detector.",
      ),
    ring_buffer_bytes: s.bytes().default(DEFAULT_RING_BUFFER_BYTES).describe("Size of each per-CPU ring buffer between the kernel and the sensor (a power of two)."),
    kubernetes: kubernetesSchema,
    container_engines: containerEnginesSchema,
    k8s_audit: k8sAuditSchema,
    metrics: s
      .object({
        alert_interval: s
          .duration()
          .range(0)
          .default(0)
          .describe(
            'Every this long, raise the detector\'s metrics as an alert (rule "Falco internal: metrics snapshot", priority Informational, source internal), as Falco\'s metrics framework does with output_rule; 0 (the default) is off. /metrics always has them.',
          ),
      })
      .describe("The detector's own metrics (peregrine_detector_* in /metrics)."),
  })
  .refine((v, ctx, path) => {
    if (!["auto", true, false, "true", "false"].includes(v.enabled as string | boolean))
      ctx.error(joinPath(path, "enabled"), `must be auto, true or false, got ${JSON.stringify(v.enabled)}`);
    const n = v.ring_buffer_bytes;
    if (typeof n === "number" && (n < 65536 || n > 2 ** 30 || (n & (n - 1)) !== 0))
      ctx.error(joinPath(path, "ring_buffer_bytes"), `must be a power of two between 64KiB and 1GiB, got ${n}`);
    if (v.rule_matching !== "first" && v.rule_matching !== "all")
      ctx.error(joinPath(path, "rule_matching"), `must be first or all, got ${JSON.stringify(v.rule_matching)}`);
    if (v.priority !== undefined && parsePriority(v.priority) === undefined)
      ctx.error(joinPath(path, "priority"), `unknown priority ${JSON.stringify(v.priority)}; expected one of ${PRIORITIES.join(", ")}`);
    // The rule engine's own check, so config check and the engine agree on what is valid.
    const names = { selection: joinPath(path, "rules"), appendOutput: joinPath(path, "append_output") };
    for (const problem of checkRulesOptions({ selection: v.rules, appendOutput: v.append_output }, names)) {
      const at = problem.indexOf(": ");
      ctx.error(problem.slice(0, at), problem.slice(at + 2));
    }
  });

export interface DetectorConfig {
  enabled: "auto" | boolean;
  rulesFiles: string[];
  selection: RuleSelectionStep[];
  appendOutput: AppendOutput[];
  ringBufferBytes: number;
  kernelFilter: boolean;
  ruleMatching: "first" | "all";
  /** detector.time_format_iso_8601. */
  timeFormatIso8601: boolean;
  minimumPriority?: Priority;
  /** detector.container_engines, defaults filled. */
  containerEngines: ContainerEnginesConfig;
  /** Present when detector.kubernetes.enabled is true. */
  kubernetes?: KubernetesConfig;
  /** detector.metrics.alert_interval in ms; 0 is off. */
  metricsAlertIntervalMs: number;
}

/** rules/ of the installation (from src/ under tsx, or dist/src/ when built). */
export function shippedRulesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ["../../../..", "../../../../.."]) {
    const dir = join(here, up, "rules");
    if (existsSync(dir)) return dir;
  }
  return join(here, "../../../..", "rules");
}

/** What the detector loads when `rules_files` is not set: Falco's stable ruleset, as Falco does. */
export function defaultRulesFiles(): string[] {
  return [join(shippedRulesDir(), "falco")];
}

export function readDetectorConfig(section: unknown): { ok: true; config: DetectorConfig } | { ok: false; problems: string[] } {
  const ctx = new ParseContext();
  const v = detectorSchema.parse(section ?? {}, ctx, "detector");
  if (!ctx.ok) return { ok: false, problems: ctx.issues.filter((i) => i.severity === "error").map((i) => `${i.path}: ${i.message}`) };
  const enabled = v.enabled === "auto" ? "auto" : v.enabled === true || v.enabled === "true";
  return {
    ok: true,
    config: {
      enabled,
      rulesFiles: v.rules_files ?? defaultRulesFiles(),
      selection: v.rules as RuleSelectionStep[],
      appendOutput: v.append_output as AppendOutput[],
      ringBufferBytes: v.ring_buffer_bytes,
      kernelFilter: v.kernel_filter,
      ruleMatching: v.rule_matching === "all" ? "all" : "first",
      timeFormatIso8601: v.time_format_iso_8601,
      containerEngines: containerEnginesConfig(v.container_engines),
      metricsAlertIntervalMs: v.metrics.alert_interval,
      ...(v.kubernetes.enabled ? { kubernetes: kubernetesConfig(v.kubernetes) } : {}),
      ...(v.priority !== undefined ? { minimumPriority: parsePriority(v.priority)! } : {}),
    },
  };
}

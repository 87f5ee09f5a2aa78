import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { formatRulesMessage, loadResponseRules, parseResponseRules, ruleMatches, type RulesCheck } from "../../src/response/rules.js";
import { actionnerRegistry } from "../../src/response/actionners/index.js";
import { rulesCheck } from "../../src/response/index.js";

const TALON = join(import.meta.dirname, "..", "fixtures", "talon");

function alert(over: Partial<Alert> = {}): Alert {
  return {
    uuid: "00000000-0000-4000-8000-000000000001",
    time: "2026-01-01T00:00:00.000000000Z",
    priority: "Critical",
    rule: "Terminal shell in container",
    output: "x",
    output_fields: { "k8s.ns.name": "default", "k8s.pod.name": "web" },
    source: "syscall",
    tags: ["container", "shell", "mitre_execution"],
    hostname: "h",
    ...over,
  };
}

/** Every actionner name is known and every parameter accepted: the format alone is checked. */
const anyActionner: RulesCheck = { checkActionner: () => [], knownActionners: () => [], outputTargets: ["aws:s3", "minio:s3", "local:file"] };

const parse = (text: string, check?: RulesCheck) => parseResponseRules([{ file: "r.yaml", text }], check);

describe("Talon's own rules files", () => {
  it("rules.yaml and rules_override.yaml load unchanged, with the override applied", () => {
    const set = loadResponseRules([join(TALON, "rules.yaml"), join(TALON, "rules_override.yaml")], anyActionner);
    expect(set.errors.map(formatRulesMessage)).toEqual([]);
    expect(set.rules.map((r) => r.name)).toEqual([
      "Suspicious outbound connection",
      "Terminal shell in container",
      "Delete unknown namespace",
      "Calico netpol",
      "Test node drain",
      "Delete namespace",
      "Test exec",
      "Test download",
      "Test tcpdump",
      "Test sysdig",
      "Test log",
    ]);
    const shell = set.rules.find((r) => r.name === "Terminal shell in container")!;
    expect(shell.actions).toHaveLength(1);
    const terminate = shell.actions[0]!;
    expect(terminate.actionner).toBe("kubernetes:terminate");
    // rules_override.yaml: later scalars replace, new keys join
    expect(terminate.parameters).toEqual({ grace_period_seconds: 2, ignore_standalone_pods: true, ignore_daemonsets: true, ignore_statefulsets: true });
    expect(shell.match.outputFields).toEqual([
      [
        { key: "k8s.ns.name", comparator: "!=", value: "kube-system" },
        { key: "k8s.ns.name", comparator: "!=", value: "falco" },
      ],
    ]);
    // a rule's action with parameters of its own, appended to the definition's lists
    const calico = set.rules.find((r) => r.name === "Calico netpol")!;
    expect(calico.actions[0]!.parameters.allow).toEqual(["192.168.1.0/24", "172.17.0.0/16"]);
    expect(calico.actions[0]!.parameters.allow_cidr).toEqual(["192.168.1.0/24", "172.17.0.0/16"]);
    const log = set.rules.find((r) => r.name === "Test download")!.actions[1]!;
    expect(log.output).toEqual({ target: "aws:s3", parameters: { bucket: "falcosidekick-tests", prefix: "logs/" } });
    // an action no rule uses is a warning, not an error
    expect(set.warnings.some((w) => w.message.includes('"Label Pod as Suspicious"') && w.pos.line === 21)).toBe(true);
  });

  it("with this build's actionners, the ones it lacks are errors at their lines", () => {
    const set = loadResponseRules([join(TALON, "rules.yaml")], rulesCheck(actionnerRegistry()));
    const unknown = set.errors.filter((e) => e.message.startsWith("unknown actionner"));
    const names = new Set(unknown.map((e) => /'([^']+)'/.exec(e.message)![1]));
    for (const n of ["cilium:networkpolicy", "calico:networkpolicy", "kubernetes:tcpdump", "kubernetes:sysdig"]) expect(names.has(n), n).toBe(true);
    const sysdig = unknown.find((e) => e.message.includes("kubernetes:sysdig"))!;
    expect(sysdig.pos.file).toBe(join(TALON, "rules.yaml"));
    expect(sysdig.pos.line).toBe(205);
  });
});

describe("matching, as Talon's CompareRule", () => {
  const { rules } = parse(
    `
- action: Kill
  actionner: process:kill
- rule: R
  match:
    rules: [Terminal shell in container, Other]
    priority: ">=Error"
    tags: ["container, shell", "k8s"]
    output_fields:
      - k8s.ns.name!=kube-system, k8s.pod.name=web
      - k8s.ns.name=prod
    source: syscall
  actions:
    - action: Kill
`,
    anyActionner,
  );
  const r = rules[0]!;
  it("every part must hold", () => {
    expect(ruleMatches(r, alert())).toBe(true);
    expect(ruleMatches(r, alert({ rule: "Nope" }))).toBe(false);
    expect(ruleMatches(r, alert({ priority: "Warning" }))).toBe(false);
    expect(ruleMatches(r, alert({ priority: "Emergency" }))).toBe(true);
    expect(ruleMatches(r, alert({ tags: ["shell"] }))).toBe(false);
    expect(ruleMatches(r, alert({ tags: ["k8s"] }))).toBe(true);
    expect(ruleMatches(r, alert({ source: "k8s_audit" }))).toBe(false);
    expect(ruleMatches(r, alert({ output_fields: { "k8s.ns.name": "kube-system", "k8s.pod.name": "web" } }))).toBe(false);
    expect(ruleMatches(r, alert({ output_fields: { "k8s.pod.name": "web" } }))).toBe(true);
    expect(ruleMatches(r, alert({ output_fields: { "k8s.ns.name": "prod" } }))).toBe(true);
  });
  it("priority without a comparator is equality; numbers compare as text", () => {
    const { rules: rs } = parse("- rule: P\n  match:\n    priority: Warning\n    output_fields: [proc.pid=42]\n  actions:\n    - action: a\n      actionner: process:kill\n", anyActionner);
    expect(ruleMatches(rs[0]!, alert({ priority: "Warning", output_fields: { "proc.pid": 42 } }))).toBe(true);
    expect(ruleMatches(rs[0]!, alert({ priority: "Error", output_fields: { "proc.pid": 42 } }))).toBe(false);
  });
});

describe("overrides and appends", () => {
  it("a rule named again appends its lists and actions, replaces priority even when empty (with a warning)", () => {
    const set = parseResponseRules(
      [
        { file: "a.yaml", text: "- rule: R\n  match:\n    rules: [A]\n    priority: Critical\n  notifiers: [slack]\n  actions:\n    - action: x\n      actionner: process:kill\n" },
        { file: "b.yaml", text: "- rule: R\n  dry_run: true\n  match:\n    rules: [B]\n  notifiers: [loki]\n  actions:\n    - action: y\n      actionner: process:stop\n" },
      ],
      anyActionner,
    );
    expect(set.errors).toEqual([]);
    const r = set.rules[0]!;
    expect(r.match.rules).toEqual(["A", "B"]);
    expect(r.match.priority).toBeUndefined();
    expect(r.notifiers).toEqual(["slack", "loki"]);
    expect(r.dryRun).toBe(true);
    expect(r.actions.map((a) => a.actionner)).toEqual(["process:kill", "process:stop"]);
    expect(set.warnings.map(formatRulesMessage)).toContain('b.yaml:1:3: warning: rule "R" is defined again without match.priority: as in Falco Talon, the later definition\'s (empty) priority replaces "Critical" (rule "R")');
  });

  it("an action named again: scalars replaced, lists appended, maps merged, the first output target kept", () => {
    const set = parse(
      `
- action: A
  actionner: kubernetes:label
  parameters: {labels: {a: "1"}, list: [x], n: 1}
  output: {target: aws:s3, parameters: {bucket: b1}}
- action: A
  parameters: {labels: {b: "2"}, list: [y], n: 2}
  output: {target: minio:s3, parameters: {prefix: p}}
- rule: R
  actions:
    - action: A
      parameters: {n: 3, labels: {a: "9"}}
`,
      anyActionner,
    );
    expect(set.errors).toEqual([]);
    const a = set.rules[0]!.actions[0]!;
    // the rule's scalar wins; for a map the definition's keys win (Talon's merge)
    expect(a.parameters).toEqual({ labels: { a: "1", b: "2" }, list: ["x", "y"], n: 3 });
    expect(a.output).toEqual({ target: "aws:s3", parameters: { bucket: "b1", prefix: "p" } });
  });
});

describe("errors name file, line and column", () => {
  it("each problem at its place", () => {
    const set = parse(
      `- rule: R
  continue: maybe
  match:
    priority: Severe
    tags: ["bad tag!"]
    output_fields: ["k8s.ns.name kube-system"]
  actions:
    - action: Nameless
- rule: S
- action: T
  actionner: Kubernetes-Terminate
- rule: U
  actions:
    - action: T
- {neither: 1}
`,
      rulesCheck(actionnerRegistry()),
    );
    const lines = set.errors.map(formatRulesMessage);
    expect(lines).toContain(`r.yaml:2:13: error: 'continue' setting can be 'true' or 'false' only (rule "R")`);
    expect(lines.some((l) => l.startsWith("r.yaml:4:15: error: incorrect priority 'Severe'"))).toBe(true);
    expect(lines).toContain(`r.yaml:5:12: error: incorrect tag 'badtag!' (rule "R")`);
    expect(lines.some((l) => l.startsWith("r.yaml:6:21: error: incorrect output field key 'k8s.ns.name kube-system'"))).toBe(true);
    expect(lines.some((l) => l.startsWith('r.yaml:8:7: error: missing actionner: no action named "Nameless" is defined'))).toBe(true);
    expect(lines).toContain(`r.yaml:9:3: error: no action specified (rule "S")`);
    expect(lines.some((l) => l.startsWith("r.yaml:11:14: error: incorrect actionner 'Kubernetes-Terminate'"))).toBe(true);
    expect(lines).toContain("r.yaml:15:3: error: an item needs `action:` (a reusable action) or `rule:` (a response rule)");
    expect(set.rules).toEqual([]);
  });

  it("parameters an actionner refuses, an unknown output target, invalid YAML", () => {
    const set = parse(
      `- rule: R
  actions:
    - action: k
      actionner: process:kill
      parameters: {signal: SIGNOPE}
    - action: s
      actionner: docker:stop
      output: {target: ftp:server, parameters: {a: 1}}
`,
      rulesCheck(actionnerRegistry()),
    );
    const lines = set.errors.map(formatRulesMessage);
    expect(lines).toContain(`r.yaml:5:19: error: parameters: signal: 'SIGNOPE' is not a signal name (SIGKILL, SIGTERM, SIGSTOP, ...) (rule "R", action "k")`);
    expect(lines.some((l) => l.startsWith("r.yaml:8:15: error: unknown output target 'ftp:server'"))).toBe(true);
    const bad = parse("- rule: R\n  actions: [\n");
    expect(bad.errors[0]!.message).toMatch(/^invalid YAML/);
    expect(bad.errors[0]!.pos.line).toBeGreaterThan(1);
  });
});

describe("notifiers map onto outputs", () => {
  it("an output's name, else a Talon notifier name as the first output of that type; the rest reported", async () => {
    const { notifierOutputs } = await import("../../src/response/index.js");
    const config = { outputs: [{ name: "team-chat", type: "slack" }, { name: "ops-chat", type: "slack" }, { name: "loki", type: "webhook" }] } as unknown as Parameters<typeof notifierOutputs>[0];
    expect(notifierOutputs(config, { notifiers: ["slack", "loki", "k8sevents"] }, ["ops-chat"])).toEqual({ outputs: ["ops-chat", "team-chat", "loki"], unknown: ["k8sevents"] });
  });
});

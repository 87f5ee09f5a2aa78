/**
 * The k8s_audit source's rule pre-selection by ka.verb and ka.target.resource: an event meets
 * only the rules whose conditions can hold for its verb and resource, and the alerts are
 * exactly those of evaluating every rule (Falco's k8s_audit_rules.yaml, rule_matching all).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultSources, k8sAuditSource, loadRules, parseAuditBody, type EventSource, type K8sAuditEvent } from "../../../src/detector/index.js";
import { REPO } from "./helpers.js";

const K8S_RULES = join(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const FIXTURES = join(REPO, "test/fixtures/k8s-audit");

/** The same source without index fields: every rule meets every event. */
const unindexed: EventSource<K8sAuditEvent> = {
  name: k8sAuditSource.name,
  fields: k8sAuditSource.fields,
  eventType: k8sAuditSource.eventType,
  extractor: (field, arg) => k8sAuditSource.extractor(field, arg),
};

function fixtureDocs(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith(".json")).sort()) {
    for (const ev of parseAuditBody(readFileSync(join(FIXTURES, f), "utf8"))) out.push(ev.doc as Record<string, unknown>);
  }
  return out;
}

/** Every fixture event, and each again with other verbs, other resources, and neither. */
function variants(): K8sAuditEvent[] {
  const docs: Record<string, unknown>[] = [];
  for (const d of fixtureDocs()) {
    docs.push(d);
    for (const verb of ["create", "update", "patch", "delete", "get", undefined]) {
      for (const resource of ["pods", "configmaps", "clusterrolebindings", "services", "secrets", "nodes", undefined]) {
        const v = structuredClone(d);
        if (verb === undefined) delete v.verb;
        else v.verb = verb;
        const ref = (v.objectRef ?? {}) as Record<string, unknown>;
        if (resource === undefined) delete ref.resource;
        else ref.resource = resource;
        v.objectRef = ref;
        docs.push(v);
      }
    }
  }
  return parseAuditBody(JSON.stringify({ kind: "EventList", items: docs }));
}

const names = (alerts: readonly { rule: string }[]): string[] => alerts.map((a) => a.rule);

describe("k8s_audit rule pre-selection by verb and resource", () => {
  it("gives the alerts of evaluating every rule, for Falco's k8s_audit rules", () => {
    const events = variants();
    const indexed = loadRules({ files: [K8S_RULES], ruleMatching: "all" });
    const plain = loadRules({ files: [K8S_RULES], ruleMatching: "all", sources: defaultSources().map((s) => (s.name === "k8s_audit" ? (unindexed as EventSource<never>) : s)) });
    expect(indexed.results.ok && plain.results.ok).toBe(true);
    let fired = 0;
    let narrowed = 0;
    for (const ev of events) {
      const a = names(indexed.ruleset.evaluate(k8sAuditSource, ev));
      const b = names(plain.ruleset.evaluate(unindexed, ev));
      expect(a).toEqual(b);
      fired += a.length;
      if (indexed.ruleset.rulesForEvent(k8sAuditSource, ev).length < plain.ruleset.rulesForEvent(unindexed, ev).length) narrowed++;
    }
    // the comparison means something: alerts fired, and most events met fewer rules
    expect(fired).toBeGreaterThan(50);
    expect(narrowed).toBeGreaterThan(events.length / 2);
  });

  it("keeps a rule whose condition negates the verb or resource, and every rule for an event without them", () => {
    const rules = `
- rule: not a read
  desc: d
  condition: not ka.verb in (get, list, watch)
  output: "%ka.verb"
  priority: NOTICE
  source: k8s_audit
- rule: double negation
  desc: d
  condition: not ka.verb != create
  output: "%ka.verb"
  priority: NOTICE
  source: k8s_audit
- rule: create pods
  desc: d
  condition: ka.verb = create and ka.target.resource = pods
  output: "%ka.verb"
  priority: NOTICE
  source: k8s_audit
- rule: anything but secrets
  desc: d
  condition: ka.target.resource != secrets
  output: "%ka.verb"
  priority: NOTICE
  source: k8s_audit
`;
    const { ruleset, results } = loadRules({ documents: [{ name: "t.yaml", text: rules }], ruleMatching: "all" });
    expect(results.ok).toBe(true);
    const ev = (doc: Record<string, unknown>) => parseAuditBody(JSON.stringify({ kind: "Event", stageTimestamp: "2026-12-07T21:14:11Z", ...doc }))[0]!;
    const fire = (doc: Record<string, unknown>) => names(ruleset.evaluate(k8sAuditSource, ev(doc)));
    expect(fire({ verb: "create", objectRef: { resource: "pods" } })).toEqual(["not a read", "double negation", "create pods", "anything but secrets"]);
    expect(fire({ verb: "get", objectRef: { resource: "secrets" } })).toEqual([]);
    expect(fire({ verb: "delete", objectRef: { resource: "secrets" } })).toEqual(["not a read"]);
    // no verb: `ka.verb != create` is false (a missing value), so its negation holds, as in Falco
    expect(fire({ objectRef: { resource: "pods" } })).toEqual(["not a read", "double negation", "anything but secrets"]);
    const met = (doc: Record<string, unknown>) => ruleset.rulesForEvent(k8sAuditSource, ev(doc)).map((r) => r.name);
    expect(met({ verb: "delete", objectRef: { resource: "secrets" } })).toEqual(["not a read"]);
    expect(met({ verb: "get", objectRef: { resource: "secrets" } })).toEqual([]);
    expect(met({ objectRef: { resource: "secrets" } })).toHaveLength(4);
  });
});

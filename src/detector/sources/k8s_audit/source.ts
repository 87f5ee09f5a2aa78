/**
 * The `k8s_audit` event source: one audit.k8s.io/v1 Event per rule evaluation, answering the
 * k8saudit and json plugins' fields (src/detector/fields/k8s-audit.ts). Stateless, so one
 * shared object serves every ruleset that loads k8s_audit rules.
 */
import type { EventSource, Extractor } from "../../event.js";
import { K8S_AUDIT_FIELDS, k8sAuditExtractor, type K8sAuditEvent } from "../../fields/k8s-audit.js";

export type { K8sAuditEvent } from "../../fields/k8s-audit.js";

export interface K8sAuditSource extends EventSource<K8sAuditEvent> {
  /** The alert's time: the event's stageTimestamp. */
  eventTime(event: K8sAuditEvent): string;
}

export const k8sAuditSource: K8sAuditSource = {
  name: "k8s_audit",
  fields: K8S_AUDIT_FIELDS,
  // audit events have no event types, as in Falco; the ruleset pre-selects rules by the verb
  // and the resource instead, the two fields nearly every k8s_audit rule tests
  eventType: () => undefined,
  indexFields: ["ka.verb", "ka.target.resource"],
  extractor(field: string, arg: string | undefined): Extractor<K8sAuditEvent> | undefined {
    return k8sAuditExtractor(field, arg);
  },
  eventTime: (event) => event.time,
};

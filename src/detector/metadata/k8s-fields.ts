/**
 * The Kubernetes fields served from the API server's metadata (k8s.ts): Falco's k8smeta
 * plugin names (k8smeta.*) and the legacy k8s.* names Falco's rules and outputs use for the
 * same things. Labels render as `key:value` list items, as both do.
 */
import type { ExtractedValue, FieldInfo } from "../event.js";
import type { K8sObject, K8sService, PodMetadata } from "./k8s.js";

type Kind = "pod" | "ns" | "deployment" | "rs" | "rc" | "svc";
type Part = "name" | "uid" | "label" | "labels" | "ip";

const KIND_TEXT: Record<Kind, string> = {
  pod: "pod",
  ns: "namespace",
  deployment: "deployment",
  rs: "replica set",
  rc: "replication controller",
  svc: "services of the pod",
};

interface Spec {
  name: string;
  kind: Kind;
  part: Part;
}

function specs(prefix: "k8smeta" | "k8s"): Spec[] {
  const out: Spec[] = [];
  for (const kind of ["pod", "ns", "deployment", "rs", "rc", "svc"] as Kind[]) {
    const parts: Part[] = ["name", "uid", "label", "labels", ...(kind === "pod" ? (["ip"] as Part[]) : [])];
    for (const part of parts) out.push({ name: `${prefix}.${kind}.${part}`, kind, part });
    // legacy names also call the uid "id"
    if (prefix === "k8s") out.push({ name: `k8s.${kind}.id`, kind, part: "uid" });
  }
  return out;
}

const ALL: readonly Spec[] = [...specs("k8smeta"), ...specs("k8s")];
const BY_NAME = new Map(ALL.map((s) => [s.name, s]));

/**
 * k8s.* names the container engines give from the CRI pod sandbox (the container plugin's):
 * those engines answer them first; the API server's metadata fills them when they cannot.
 */
export const K8S_CONTAINER_ENGINE_FIELDS: ReadonlySet<string> = new Set(["k8s.pod.name", "k8s.pod.uid", "k8s.pod.label", "k8s.pod.labels", "k8s.pod.ip", "k8s.ns.name"]);

function describe(s: Spec): string {
  const what = KIND_TEXT[s.kind];
  const from = " (from the API server)";
  if (s.kind === "svc") {
    if (s.part === "name") return `Names of the ${what}${from}.`;
    if (s.part === "uid") return `UIDs of the ${what}${from}.`;
    if (s.part === "label") return `Values of one label of the ${what} (${s.name}[app])${from}.`;
    return `Labels of the ${what}, as key:value items${from}.`;
  }
  if (s.part === "name") return `Kubernetes ${what} name${from}.`;
  if (s.part === "uid") return `Kubernetes ${what} UID${from}.`;
  if (s.part === "ip") return `Kubernetes pod IP${from}.`;
  if (s.part === "label") return `One label of the ${what} (${s.name}[app])${from}.`;
  return `Labels of the ${what}, as key:value items${from}.`;
}

export const K8S_FIELD_LIST: readonly FieldInfo[] = ALL.map((s) => ({
  name: s.name,
  type: "string",
  description: describe(s),
  ...(s.part === "labels" || s.kind === "svc" ? { isList: true } : {}),
  ...(s.part === "label" ? { arg: "required" as const } : {}),
}));

function labelsText(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}:${v}`);
}

function objectOf(m: PodMetadata, kind: Exclude<Kind, "svc">): K8sObject | undefined {
  switch (kind) {
    case "pod":
      return m.pod;
    case "ns":
      return m.namespace;
    case "deployment":
      return m.deployment;
    case "rs":
      return m.replicaSet;
    case "rc":
      return m.replicationController;
  }
}

function one(o: K8sObject, part: Part, arg: string | undefined, m: PodMetadata): ExtractedValue | undefined {
  switch (part) {
    case "name":
      return o.name;
    case "uid":
      return o.uid;
    case "label":
      return arg === undefined ? undefined : o.labels[arg];
    case "labels":
      return labelsText(o.labels);
    case "ip":
      return m.pod.ip;
  }
}

function many(list: readonly K8sService[], part: Part, arg: string | undefined): ExtractedValue | undefined {
  if (list.length === 0) return undefined;
  switch (part) {
    case "name":
      return list.map((s) => s.name);
    case "uid":
      return list.map((s) => s.uid);
    case "label": {
      const vals = list.map((s) => (arg === undefined ? undefined : s.labels[arg])).filter((v): v is string => v !== undefined);
      return vals.length > 0 ? vals : undefined;
    }
    default:
      return list.flatMap((s) => labelsText(s.labels));
  }
}

/**
 * An extractor for one Kubernetes field, given how to find an event's pod metadata; undefined
 * for a name that is not one of these fields.
 */
export function k8sExtractor<E>(field: string, arg: string | undefined, podOf: (e: E) => PodMetadata | undefined): ((e: E) => ExtractedValue | undefined) | undefined {
  const s = BY_NAME.get(field);
  if (!s) return undefined;
  if (s.kind === "ns" && s.part === "name")
    // the namespace's name is the pod's, known even before the namespace object is
    return (e) => podOf(e)?.pod.namespace;
  if (s.kind === "svc") return (e) => {
    const m = podOf(e);
    return m ? many(m.services, s.part, arg) : undefined;
  };
  const kind = s.kind;
  return (e) => {
    const m = podOf(e);
    const o = m ? objectOf(m, kind) : undefined;
    return o && m ? one(o, s.part, arg, m) : undefined;
  };
}

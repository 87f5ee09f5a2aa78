/**
 * The actionners that act on the pod an alert names: terminate, label, annotation,
 * networkpolicy, log, exec, script and download, with Falco Talon's names, parameters and
 * semantics. Each resolves the pod by k8s.ns.name / k8s.pod.name and records its uid; each
 * run acts on that uid only and answers `gone` when the pod was deleted or replaced.
 */
import type { Alert } from "../../../alert.js";
import type { ActionParameters, ActionRequest, ActionResult, Actionner } from "../../actionner.js";
import { resourcePath } from "../../kubernetes/client.js";
import {
  apiFailure,
  belowMinHealthy,
  boolParam,
  checkBool,
  checkInt,
  checkMinHealthy,
  checkParams,
  checkString,
  checkStringList,
  checkStringMap,
  containersOf,
  failed,
  goneOr,
  intParam,
  isResult,
  kube,
  parseMinHealthy,
  podKind,
  podPath,
  recordedPod,
  resolvePod,
  stringListParam,
  stringMapParam,
  stringParam,
  type Json,
  type Pod,
} from "./common.js";

/** The pod, or the result to answer when it is not the recorded one any more. */
async function podOf(req: ActionRequest): Promise<Pod | ActionResult> {
  return recordedPod(req.target, req.signal);
}

// ---- kubernetes:terminate ----------------------------------------------------------------

export const terminate: Actionner = {
  name: "kubernetes:terminate",
  description: "Terminate a pod (deleted with a uid precondition: a pod that replaced it under the same name is never hit)",
  continueByDefault: false,
  checkParameters: (p) =>
    checkParams(checkInt(p, "grace_period_seconds"), checkBool(p, "ignore_daemonsets"), checkBool(p, "ignore_statefulsets"), checkBool(p, "ignore_standalone_pods"), checkMinHealthy(p)),
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    const p = req.parameters;
    const where = `pod ${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pod.metadata.deletionTimestamp) return { status: "done", message: `the ${where} is terminating (since ${pod.metadata.deletionTimestamp})` };
    const kind = podKind(pod);
    const ignored = (why: string): ActionResult => ({ status: "done", message: `ignored: the ${where} ${why}`, objects: { ignored: why } });
    if (kind === "DaemonSet" && boolParam(p, "ignore_daemonsets", false)) return ignored("belongs to a DaemonSet");
    if (kind === "StatefulSet" && boolParam(p, "ignore_statefulsets", false)) return ignored("belongs to a StatefulSet");
    // Talon's default: a pod nothing recreates is left alone unless the rule says otherwise
    if (kind === "StandalonePod" && boolParam(p, "ignore_standalone_pods", true)) return ignored("is a standalone pod (ignore_standalone_pods)");
    const min = parseMinHealthy(p.min_healthy_replicas);
    if (kind === "ReplicaSet" && min) {
      try {
        const h = await belowMinHealthy(pod, min, req.signal);
        if (h.below) return ignored(`belongs to a ReplicaSet without enough healthy replicas (${h.ready} ready of ${h.desired}, min_healthy_replicas ${String(p.min_healthy_replicas)})`);
      } catch (err) {
        return apiFailure(err, `the ReplicaSet of the ${where}`);
      }
    }
    const grace = intParam(p, "grace_period_seconds") ?? 0;
    try {
      await kube().delete(podPath(pod.metadata.namespace, pod.metadata.name), pod.metadata.uid, { gracePeriodSeconds: grace, signal: req.signal });
    } catch (err) {
      return goneOr(err, req.target, `deleting the ${where}`);
    }
    return { status: "done", message: `the ${where} has been terminated`, objects: { pod: `${pod.metadata.namespace}/${pod.metadata.name}` } };
  },
};

// ---- kubernetes:label / kubernetes:annotation --------------------------------------------

function metadataMap(what: "labels" | "annotations"): Actionner {
  const singular = what === "labels" ? "label" : "annotation";
  return {
    name: `kubernetes:${singular}`,
    description: `Add, modify or delete the ${what} of the pod or of its node (an empty value deletes)`,
    checkParameters: (p) =>
      checkParams(
        checkStringMap(p, what),
        p.level === undefined || p.level === "pod" || p.level === "node" ? undefined : `level: must be pod or node, got ${JSON.stringify(p.level)}`,
      ),
    resolve: resolvePod,
    async run(req) {
      const pod = await podOf(req);
      if (isResult(pod)) return pod;
      const values = stringMapParam(req.parameters, what);
      const patch: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(values)) patch[k] = v === "" ? null : v;
      if (req.parameters.level === "node") {
        const node = pod.spec.nodeName;
        if (!node) return failed("RESPONSE_ACTION_FAILED", `pod ${pod.metadata.namespace}/${pod.metadata.name} is not bound to a node`, false);
        try {
          await kube().mergePatch(resourcePath("api/v1", "nodes", undefined, node), { metadata: { [what]: patch } }, req.signal);
        } catch (err) {
          return apiFailure(err, `patching the ${what} of node ${node}`);
        }
        return { status: "done", message: `the node '${node}' has been ${what === "labels" ? "labeled" : "annotated"}`, objects: { node } };
      }
      try {
        // the uid in the patch is immutable: a replaced pod refuses it (422) instead of being changed
        await kube().mergePatch(podPath(pod.metadata.namespace, pod.metadata.name), { metadata: { uid: pod.metadata.uid, [what]: patch } }, req.signal);
      } catch (err) {
        return goneOr(err, req.target, `patching the ${what} of pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      }
      return {
        status: "done",
        message: `the pod '${pod.metadata.name}' in the namespace '${pod.metadata.namespace}' has been ${what === "labels" ? "labeled" : "annotated"}`,
        objects: { pod: `${pod.metadata.namespace}/${pod.metadata.name}` },
      };
    },
  };
}

export const label = metadataMap("labels");
export const annotation = metadataMap("annotations");

// ---- kubernetes:networkpolicy ------------------------------------------------------------

const MANAGED_BY = "app.k8s.io/managed-by";
/** The value Talon writes; kept so policies it made and ours are recognised alike. */
const MANAGED_BY_VALUE = "falco-talon";

function isCidr(v: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const bits = Number(m[2]);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(m[1]!)) return m[1]!.split(".").every((o) => Number(o) <= 255) && bits <= 32;
  return m[1]!.includes(":") && /^[0-9a-fA-F:.]+$/.test(m[1]!) && bits <= 128;
}

/** The deny-egress policy Talon builds for a pod: named after its owner, selecting the owner's labels. */
export async function networkPolicyFor(pod: Pod, parameters: ActionParameters, signal?: AbortSignal): Promise<Json> {
  const ns = pod.metadata.namespace;
  let owner: string;
  let labels: Record<string, string>;
  const ref = pod.metadata.ownerReferences?.[0];
  if (ref) {
    const resource = { DaemonSet: "daemonsets", StatefulSet: "statefulsets", ReplicaSet: "replicasets" }[ref.kind];
    if (!resource) throw new Error(`pod ${ns}/${pod.metadata.name} is owned by a ${ref.kind}: no selector to build the policy from`);
    const o = await kube().get<{ metadata: { name: string }; spec?: { selector?: { matchLabels?: Record<string, string> } } }>(resourcePath("apis/apps/v1", resource, ns, ref.name), signal);
    owner = o.metadata.name;
    labels = { ...(o.spec?.selector?.matchLabels ?? {}) };
  } else {
    owner = pod.metadata.name;
    labels = { ...(pod.metadata.labels ?? {}) };
  }
  for (const k of ["pod-template-hash", "pod-template-generation", "controller-revision-hash"]) delete labels[k];
  if (Object.keys(labels).length === 0) throw new Error(`can't find the labels of the owner ${owner} of pod ${ns}/${pod.metadata.name} to select it`);
  const selector = { ...labels };
  delete selector[MANAGED_BY];
  const policy: Json = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: owner, namespace: ns, labels: { ...labels, [MANAGED_BY]: MANAGED_BY_VALUE } },
    spec: { policyTypes: ["Egress"], podSelector: { matchLabels: selector } },
  };
  const cidrs = stringListParam(parameters, "allow_cidr");
  const namespaces = stringListParam(parameters, "allow_namespaces");
  const to: Json[] = [...cidrs.map((cidr) => ({ ipBlock: { cidr } })), ...namespaces.map((n) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": n } } }))];
  if (to.length > 0) (policy.spec as Json).egress = [{ to }];
  return policy;
}

export const networkpolicy: Actionner = {
  name: "kubernetes:networkpolicy",
  description: "Create or update a NetworkPolicy that blocks the pod's egress except to allow_cidr and allow_namespaces",
  checkParameters: (p) => {
    const problems = checkParams(checkStringList(p, "allow_cidr"), checkStringList(p, "allow_namespaces"));
    for (const c of stringListParam(p, "allow_cidr")) if (!isCidr(c)) problems.push(`allow_cidr: wrong CIDR '${c}'`);
    return problems;
  },
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    let policy: Json;
    try {
      policy = await networkPolicyFor(pod, req.parameters, req.signal);
    } catch (err) {
      return apiFailure(err, `building the NetworkPolicy of pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    }
    const meta = policy.metadata as { name: string; namespace: string };
    const path = resourcePath("apis/networking.k8s.io/v1", "networkpolicies", meta.namespace);
    let verb: string;
    try {
      const existing = await kube().getOptional(`${path}/${encodeURIComponent(meta.name)}`, req.signal);
      if (existing) {
        await kube().request("PUT", `${path}/${encodeURIComponent(meta.name)}`, { body: policy, signal: req.signal });
        verb = "updated";
      } else {
        await kube().request("POST", path, { body: policy, signal: req.signal });
        verb = "created";
      }
    } catch (err) {
      return apiFailure(err, `writing NetworkPolicy ${meta.namespace}/${meta.name}`);
    }
    return {
      status: "done",
      message: `the networkpolicy '${meta.name}' in the namespace '${meta.namespace}' has been ${verb}`,
      objects: { networkpolicy: `${meta.namespace}/${meta.name}` },
    };
  },
};

// ---- kubernetes:log ----------------------------------------------------------------------

const artifactBase = (pod: Pod, name: string) => `${pod.metadata.namespace}_${pod.metadata.name}_${name.replace(/\//g, "_")}`;

export const log: Actionner = {
  name: "kubernetes:log",
  description: "Get the last lines of the pod's log (the first container with any), as an artifact for the action's output",
  output: "allowed",
  checkParameters: (p) => checkParams(checkInt(p, "tail_lines")),
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    const tail = intParam(req.parameters, "tail_lines") || 20;
    const containers = containersOf(pod);
    if (containers.length === 0) return failed("RESPONSE_ACTION_FAILED", `pod ${pod.metadata.namespace}/${pod.metadata.name} has no container`, false);
    let text = "";
    let lastError: unknown;
    let from = "";
    for (const container of containers) {
      try {
        text = await kube().logs(pod.metadata.namespace, pod.metadata.name, { container, tailLines: tail, signal: req.signal });
        from = container;
        lastError = undefined;
        if (text.length > 0) break;
      } catch (err) {
        lastError = err;
      }
    }
    if (lastError !== undefined) return goneOr(lastError, req.target, `reading the log of pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    const lines = text === "" ? 0 : text.replace(/\n$/, "").split("\n").length;
    return {
      status: "done",
      message: `${lines} lines of the log of the pod '${pod.metadata.name}' in the namespace '${pod.metadata.namespace}' (container ${from})`,
      objects: { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, container: from },
      artifacts: [{ name: artifactBase(pod, "log"), contentType: "text/plain; charset=utf-8", data: Buffer.from(text, "utf8") }],
    };
  },
};

// ---- kubernetes:exec / kubernetes:script / kubernetes:download ---------------------------

/**
 * Talon exports the alert's fields to the environment before expanding `${NAME}` in commands:
 * `fd.name` becomes FD_NAME, `k8s.pod.label[app]` K8S_POD_LABEL_APP, plus PRIORITY, HOSTNAME,
 * RULE, SOURCE and TAGS. The same names are expanded here, without touching the environment.
 */
export function expandAlertVars(text: string, alert: Alert): string {
  const vars = new Map<string, string>();
  for (const [k, v] of Object.entries(alert.output_fields)) {
    const key = k.toUpperCase().replace(/\./g, "_").replace(/\[/g, "_").replace(/\]/g, "");
    vars.set(key, typeof v === "string" ? v : JSON.stringify(v));
  }
  vars.set("PRIORITY", alert.priority);
  vars.set("HOSTNAME", alert.hostname);
  vars.set("RULE", alert.rule);
  vars.set("SOURCE", alert.source);
  vars.set("TAGS", alert.tags.join(","));
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => vars.get((a ?? b)!) ?? process.env[(a ?? b)!] ?? "");
}

const MAX_MESSAGE_OUTPUT = 4096;

function clip(b: Buffer): string {
  const s = b.toString("utf8");
  return s.length > MAX_MESSAGE_OUTPUT ? `${s.slice(0, MAX_MESSAGE_OUTPUT)}…` : s;
}

async function execIn(req: ActionRequest, pod: Pod, command: string[], what: string, eachContainer: boolean): Promise<ActionResult> {
  const containers = containersOf(pod);
  if (containers.length === 0) return failed("RESPONSE_ACTION_FAILED", `pod ${pod.metadata.namespace}/${pod.metadata.name} has no container`, false);
  const outputs: string[] = [];
  const parts: Buffer[] = [];
  let failure: ActionResult | undefined;
  for (const container of eachContainer ? containers : containers.slice(0, 1)) {
    try {
      const r = await kube().exec(pod.metadata.namespace, pod.metadata.name, container, command, { signal: req.signal });
      if (r.exitCode !== 0) {
        failure = failed("RESPONSE_ACTION_FAILED", `${what} in container ${container} of pod ${pod.metadata.namespace}/${pod.metadata.name}: exit ${r.exitCode}${r.message ? ` (${r.message})` : ""}: ${clip(r.stderr)}`, false);
        continue;
      }
      outputs.push(containers.length > 1 ? `[${container}] ${clip(r.stdout)}` : clip(r.stdout));
      parts.push(r.stdout);
    } catch (err) {
      failure = await goneOr(err, req.target, `${what} in pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    }
  }
  if (outputs.length === 0 && failure) return failure;
  return {
    status: "done",
    message: outputs.join("\n"),
    objects: { pod: `${pod.metadata.namespace}/${pod.metadata.name}` },
    artifacts: [{ name: artifactBase(pod, what === "script" ? "script-output" : "exec-output"), contentType: "text/plain; charset=utf-8", data: Buffer.concat(parts) }],
  };
}

export const exec: Actionner = {
  name: "kubernetes:exec",
  description: "Run a command (through the shell) in each container of the pod; ${FIELD} names are expanded from the alert",
  output: "allowed",
  checkParameters: (p) => checkParams(checkString(p, "command", true), checkString(p, "shell", false)),
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    const shell = stringParam(req.parameters, "shell") || "/bin/sh";
    const command = expandAlertVars(stringParam(req.parameters, "command") ?? "", req.alert);
    return execIn(req, pod, [shell, "-c", command], "exec", true);
  },
};

export const script: Actionner = {
  name: "kubernetes:script",
  description: "Run a script (inline, or a file of the router's host) with the shell in the pod; ${FIELD} names are expanded from the alert",
  output: "allowed",
  checkParameters: (p) => {
    const problems = checkParams(checkString(p, "script", false), checkString(p, "file", false), checkString(p, "shell", false));
    const hasScript = typeof p.script === "string" && p.script !== "";
    const hasFile = typeof p.file === "string" && p.file !== "";
    if (!hasScript && !hasFile) problems.push("script: missing parameter 'script' or 'file'");
    if (hasScript && hasFile) problems.push("script: 'script' and 'file' parameters can't be set at the same time");
    return problems;
  },
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    let text = stringParam(req.parameters, "script") ?? "";
    const file = stringParam(req.parameters, "file");
    if (file) {
      try {
        const { readFile } = await import("node:fs/promises");
        text = await readFile(file, "utf8");
      } catch (err) {
        return failed("RESPONSE_ACTION_FAILED", `file: cannot read ${file}: ${(err as Error).message}`, false);
      }
    }
    const shell = stringParam(req.parameters, "shell") || "/bin/sh";
    // the script travels as the shell's -c argument: no copy in the container's file system
    return execIn(req, pod, [shell, "-c", expandAlertVars(text, req.alert)], "script", false);
  },
};

export const download: Actionner = {
  name: "kubernetes:download",
  description: "Download a file from the pod (cat in its first container that has it), as an artifact for the action's output",
  output: "required",
  checkParameters: (p) => checkParams(checkString(p, "file", true)),
  resolve: resolvePod,
  async run(req) {
    const pod = await podOf(req);
    if (isResult(pod)) return pod;
    const file = expandAlertVars(stringParam(req.parameters, "file") ?? "", req.alert);
    let failure: ActionResult | undefined;
    for (const container of containersOf(pod)) {
      try {
        const r = await kube().exec(pod.metadata.namespace, pod.metadata.name, container, ["cat", file], { signal: req.signal });
        if (r.exitCode !== 0) {
          failure = failed("RESPONSE_ACTION_FAILED", `cat ${file} in container ${container}: exit ${r.exitCode}: ${clip(r.stderr)}`, false);
          continue;
        }
        return {
          status: "done",
          message: `the file '${file}' of the pod '${pod.metadata.name}' in the namespace '${pod.metadata.namespace}' (${r.stdout.length} bytes) has been downloaded`,
          objects: { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, file },
          artifacts: [{ name: artifactBase(pod, file), contentType: "application/octet-stream", data: r.stdout }],
        };
      } catch (err) {
        failure = await goneOr(err, req.target, `downloading ${file} from pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      }
    }
    return failure ?? failed("RESPONSE_ACTION_FAILED", `pod ${pod.metadata.namespace}/${pod.metadata.name} has no container`, false);
  },
};

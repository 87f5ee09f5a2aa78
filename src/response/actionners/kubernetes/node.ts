/**
 * The actionners that act on the node of the pod an alert names: cordon and drain (Falco
 * Talon's names and parameters). The target recorded is the node with its uid, so a node
 * deleted and re-registered under the same name is not touched.
 */
import type { Alert } from "../../../alert.js";
import type { ActionResult, ActionTarget, Actionner, ResolveResult } from "../../actionner.js";
import { resourcePath } from "../../kubernetes/client.js";
import {
  apiFailure,
  belowMinHealthy,
  boolParam,
  checkBool,
  checkInt,
  checkMinHealthy,
  checkParams,
  checkStringList,
  failed,
  intParam,
  kube,
  parseMinHealthy,
  podKind,
  resolvePod,
  stringListParam,
  type Pod,
} from "./common.js";

interface Node {
  metadata: { name: string; uid: string };
  spec?: { unschedulable?: boolean };
}

const nodePath = (name: string) => resourcePath("api/v1", "nodes", undefined, name);

async function resolveNode(alert: Alert): Promise<ResolveResult> {
  const pod = await resolvePod(alert);
  if (!pod.ok) return pod;
  const { namespace, name, node } = pod.target.identity;
  if (!node) return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `pod ${namespace}/${name} is not bound to a node` };
  let n: Node | undefined;
  try {
    n = await kube().getOptional<Node>(nodePath(node));
  } catch (err) {
    return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `looking up node ${node}: ${(err as Error).message}` };
  }
  if (!n) return { ok: false, code: "RESPONSE_TARGET_GONE", message: `node ${node} (of pod ${namespace}/${name}) does not exist` };
  const target: ActionTarget = { kind: "node", description: `node ${node} (of pod ${namespace}/${name})`, identity: { name: node, uid: n.metadata.uid, pod: `${namespace}/${name}` } };
  return { ok: true, target };
}

async function recordedNode(target: ActionTarget, signal: AbortSignal): Promise<Node | ActionResult> {
  const { name: node, uid } = target.identity;
  if (!node || !uid) return failed("RESPONSE_ACTION_FAILED", `the recorded target ${target.description} has no node and uid`, false);
  try {
    const n = await kube().getOptional<Node>(nodePath(node), signal);
    if (!n) return { status: "gone", message: `node ${node} no longer exists` };
    if (n.metadata.uid !== uid) return { status: "gone", message: `node ${node} was registered again (uid ${n.metadata.uid}, recorded ${uid})` };
    return n;
  } catch (err) {
    return apiFailure(err, `node ${node}`);
  }
}

const isNode = (v: Node | ActionResult): v is Node => "metadata" in v;

export const cordon: Actionner = {
  name: "kubernetes:cordon",
  description: "Cordon the node of the pod (spec.unschedulable: true)",
  checkParameters: () => [],
  resolve: resolveNode,
  async run(req) {
    const node = await recordedNode(req.target, req.signal);
    if (!isNode(node)) return node;
    try {
      await kube().mergePatch(nodePath(node.metadata.name), { metadata: { uid: node.metadata.uid }, spec: { unschedulable: true } }, req.signal);
    } catch (err) {
      return apiFailure(err, `cordoning node ${node.metadata.name}`);
    }
    return { status: "done", message: `the node '${node.metadata.name}' has been cordoned`, objects: { node: node.metadata.name } };
  },
};

/**
 * Pods a drain never evicts whatever a rule says: mirror pods (the kubelet's static pods,
 * which the API cannot evict), kube-system's, and those the engine protects (its own pod,
 * the detector's, allowlisted namespaces) through `protectFromDrain`.
 */
let protectedPod: (pod: Pod) => boolean = () => false;

export function protectFromDrain(predicate: (pod: Pod) => boolean): void {
  protectedPod = predicate;
}

function neverEvicted(pod: Pod): boolean {
  return pod.metadata.namespace === "kube-system" || pod.metadata.annotations?.["kubernetes.io/config.mirror"] !== undefined || protectedPod(pod);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

export const drain: Actionner = {
  name: "kubernetes:drain",
  description: "Drain the node of the pod: evict its pods through the eviction API (PodDisruptionBudgets honoured)",
  checkParameters: (p) =>
    checkParams(checkMinHealthy(p), checkStringList(p, "wait_period_excluded_namespaces"), checkBool(p, "ignore_errors"), checkBool(p, "ignore_daemonsets"), checkBool(p, "ignore_statefulsets"), checkInt(p, "max_wait_period")),
  resolve: resolveNode,
  async run(req) {
    const node = await recordedNode(req.target, req.signal);
    if (!isNode(node)) return node;
    const p = req.parameters;
    const name = node.metadata.name;
    let pods: Pod[];
    try {
      pods = (await kube().get<{ items: Pod[] }>(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${name}`)}`, req.signal)).items;
    } catch (err) {
      return apiFailure(err, `listing the pods of node ${name}`);
    }
    const min = parseMinHealthy(p.min_healthy_replicas);
    const maxWait = intParam(p, "max_wait_period") ?? 0;
    const excluded = new Set(stringListParam(p, "wait_period_excluded_namespaces"));
    let ignored = 0;
    let evictionErrors = 0;
    let waitErrors = 0;
    let otherErrors = 0;
    const errors: string[] = [];
    await Promise.all(
      pods.map(async (pod) => {
        const kind = podKind(pod);
        if (neverEvicted(pod) || (kind === "DaemonSet" && boolParam(p, "ignore_daemonsets", false)) || (kind === "StatefulSet" && boolParam(p, "ignore_statefulsets", false))) {
          ignored++;
          return;
        }
        if (kind === "ReplicaSet" && min) {
          try {
            if ((await belowMinHealthy(pod, min, req.signal)).below) {
              ignored++;
              return;
            }
          } catch (err) {
            otherErrors++;
            errors.push(`${pod.metadata.namespace}/${pod.metadata.name}: ${(err as Error).message}`);
            return;
          }
        }
        try {
          await kube().evict(pod.metadata.namespace, pod.metadata.name, pod.metadata.uid, req.signal);
        } catch (err) {
          evictionErrors++;
          errors.push(`${pod.metadata.namespace}/${pod.metadata.name}: ${(err as Error).message}`);
          return;
        }
        if (maxWait <= 0 || excluded.has(pod.metadata.namespace)) return;
        const deadline = Date.now() + maxWait * 1000;
        while (!req.signal.aborted) {
          const now = await kube()
            .getOptional<Pod>(resourcePath("api/v1", "pods", pod.metadata.namespace, pod.metadata.name), req.signal)
            .catch(() => pod);
          if (!now || now.metadata.uid !== pod.metadata.uid) return;
          if (Date.now() >= deadline) break;
          await sleep(1000, req.signal);
        }
        waitErrors++;
        errors.push(`${pod.metadata.namespace}/${pod.metadata.name}: not gone within max_wait_period (${maxWait} s)`);
      }),
    );
    const counts = `${pods.length} pods, ${ignored} ignored, ${evictionErrors} eviction errors, ${waitErrors} not gone within max_wait_period, ${otherErrors} other errors`;
    if (evictionErrors + waitErrors + otherErrors === 0 || boolParam(p, "ignore_errors", false))
      return { status: "done", message: `the node '${name}' has been drained (${counts})`, objects: { node: name } };
    return failed("RESPONSE_ACTION_FAILED", `the node '${name}' has not been fully drained (${counts}): ${errors.slice(0, 5).join("; ")}`, true);
  },
};

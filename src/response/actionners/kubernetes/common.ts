/**
 * What the `kubernetes:*` actionners share: the client they act through, the pod an alert
 * names (k8s.ns.name / k8s.pod.name, its uid looked up and recorded), parameter checks in
 * Talon's terms, and the mapping of API answers onto action results.
 */
import type { Alert } from "../../../alert.js";
import type { ActionParameters, ActionResult, ActionTarget, ResolveResult } from "../../actionner.js";
import { KubeActionClient, KubeApiError, resourcePath, type Json } from "../../kubernetes/client.js";

let provider: (() => KubeActionClient) | undefined;
let lazyDefault: KubeActionClient | undefined;

/**
 * The client the actionners use. The engine sets it from its configuration; without it the
 * first action reads $KUBECONFIG's current context, else the pod's service account.
 */
export function useKubernetesClient(client: KubeActionClient | (() => KubeActionClient) | undefined): void {
  provider = client === undefined ? undefined : typeof client === "function" ? client : () => client;
}

export function kube(): KubeActionClient {
  if (provider) return provider();
  lazyDefault ??= KubeActionClient.fromKubeconfig(process.env.KUBECONFIG || undefined);
  return lazyDefault;
}

// ---- alert fields ------------------------------------------------------------------------

export function field(alert: Alert, name: string): string | undefined {
  const v = alert.output_fields[name];
  if (typeof v === "string" && v !== "" && v !== "<NA>") return v;
  if (typeof v === "number") return String(v);
  return undefined;
}

export function missing(names: readonly string[]): ResolveResult {
  return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `the alert has no ${names.join(", ")} (needed to name the target)` };
}

// ---- pods --------------------------------------------------------------------------------

export interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[]; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string }[] };
  status?: { phase?: string };
}

export const podPath = (namespace: string, name: string, sub?: string) => resourcePath("api/v1", "pods", namespace, name, sub);

/** The pod the alert names, with its uid: the identity recorded before the action runs. */
export async function resolvePod(alert: Alert): Promise<ResolveResult> {
  const namespace = field(alert, "k8s.ns.name");
  const name = field(alert, "k8s.pod.name");
  if (namespace === undefined || name === undefined) return missing(["k8s.ns.name", "k8s.pod.name"].filter((f) => field(alert, f) === undefined));
  let pod: Pod | undefined;
  try {
    pod = await kube().getOptional<Pod>(podPath(namespace, name));
  } catch (err) {
    return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `looking up pod ${namespace}/${name}: ${(err as Error).message}` };
  }
  if (!pod) return { ok: false, code: "RESPONSE_TARGET_GONE", message: `pod ${namespace}/${name} does not exist` };
  const alertUid = field(alert, "k8s.pod.uid");
  if (alertUid !== undefined && alertUid !== pod.metadata.uid)
    return { ok: false, code: "RESPONSE_TARGET_GONE", message: `pod ${namespace}/${name} is not the one of the alert (uid ${pod.metadata.uid}, the alert's ${alertUid}): it was replaced` };
  return { ok: true, target: podTarget(pod) };
}

export function podTarget(pod: Pod): ActionTarget {
  const identity: Record<string, string> = { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
  if (pod.spec.nodeName) identity.node = pod.spec.nodeName;
  return { kind: "pod", description: `pod ${pod.metadata.namespace}/${pod.metadata.name}`, identity };
}

/**
 * The recorded pod, if it still exists under its uid. `gone` otherwise: the action must not
 * touch a pod that replaced it under the same name.
 */
export async function recordedPod(target: ActionTarget, signal?: AbortSignal): Promise<Pod | ActionResult> {
  const { namespace, name, uid } = target.identity;
  if (!namespace || !name || !uid) return failed("RESPONSE_ACTION_FAILED", `the recorded target ${target.description} has no namespace, name and uid`, false);
  try {
    const pod = await kube().getOptional<Pod>(podPath(namespace, name), signal);
    if (!pod) return { status: "gone", message: `pod ${namespace}/${name} no longer exists` };
    if (pod.metadata.uid !== uid) return { status: "gone", message: `pod ${namespace}/${name} was replaced (uid ${pod.metadata.uid}, recorded ${uid})` };
    return pod;
  } catch (err) {
    return apiFailure(err, `pod ${namespace}/${name}`);
  }
}

export const isResult = (v: unknown): v is ActionResult => typeof v === "object" && v !== null && "status" in v && typeof (v as { status: unknown }).status === "string" && !("metadata" in v);

export function failed(code: string, message: string, retryable: boolean): ActionResult {
  return { status: "failed", code, message, retryable };
}

/** An API error as a failed action: retryable for 5xx, 429, timeouts and a refused connection. */
export function apiFailure(err: unknown, what: string): ActionResult {
  if (err instanceof KubeApiError) return failed("RESPONSE_ACTION_FAILED", `${what}: ${err.message}`, err.retryable);
  if ((err as Error)?.name === "AbortError") return failed("RESPONSE_ACTION_FAILED", `${what}: aborted`, true);
  return failed("RESPONSE_ACTION_FAILED", `${what}: ${(err as Error)?.message ?? String(err)}`, true);
}

/**
 * After a write failed: `gone` if the pod is no longer the recorded one (a uid precondition
 * or the immutable uid refused it), else the API failure.
 */
export async function goneOr(err: unknown, target: ActionTarget, what: string): Promise<ActionResult> {
  if (err instanceof KubeApiError && (err.notFound || err.conflict || err.status === 422)) {
    const now = await recordedPod(target).catch(() => undefined);
    if (now && isResult(now)) return now.status === "gone" ? now : apiFailure(err, what);
  }
  return apiFailure(err, what);
}

export const containersOf = (pod: Pod): string[] => pod.spec.containers.map((c) => c.name);

// ---- parameters --------------------------------------------------------------------------

/**
 * The problems the checkers report. Unknown parameter names are not problems: Talon decodes
 * parameters leniently and its own rules file carries names older versions took.
 */
export function checkParams(...checks: (string | undefined)[]): string[] {
  return checks.filter((c): c is string => c !== undefined);
}

export function intParam(parameters: ActionParameters, name: string, min = 0): number | undefined {
  const v = parameters[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= min ? n : NaN;
}

export function checkInt(parameters: ActionParameters, name: string, min = 0): string | undefined {
  const n = intParam(parameters, name, min);
  return Number.isNaN(n) ? `${name}: must be a whole number >= ${min}, got ${JSON.stringify(parameters[name])}` : undefined;
}

export function boolParam(parameters: ActionParameters, name: string, fallback: boolean): boolean {
  const v = parameters[name];
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  return fallback;
}

export function checkBool(parameters: ActionParameters, name: string): string | undefined {
  const v = parameters[name];
  return v === undefined || typeof v === "boolean" || v === "true" || v === "false" ? undefined : `${name}: must be true or false, got ${JSON.stringify(v)}`;
}

export function stringParam(parameters: ActionParameters, name: string): string | undefined {
  const v = parameters[name];
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

export function checkString(parameters: ActionParameters, name: string, required: boolean): string | undefined {
  const v = parameters[name];
  if (v === undefined || v === null || v === "") return required ? `${name}: required` : undefined;
  return typeof v === "string" || typeof v === "number" ? undefined : `${name}: must be a string, got ${JSON.stringify(v)}`;
}

export function stringListParam(parameters: ActionParameters, name: string): string[] {
  const v = parameters[name];
  return Array.isArray(v) ? v.map(String) : [];
}

export function checkStringList(parameters: ActionParameters, name: string): string | undefined {
  const v = parameters[name];
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) && v.every((i) => typeof i === "string") ? undefined : `${name}: must be a list of strings`;
}

/** A map of string values (`labels:`, `annotations:`); an empty value means "remove". */
export function stringMapParam(parameters: ActionParameters, name: string): Record<string, string> {
  const v = parameters[name];
  const out: Record<string, string> = {};
  if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? "" : String(x);
  return out;
}

export function checkStringMap(parameters: ActionParameters, name: string): string | undefined {
  const v = parameters[name];
  if (v === undefined || v === null || typeof v !== "object" || Array.isArray(v)) return `${name}: required, a map of names to values`;
  if (Object.keys(v).length === 0) return `${name}: should have at least one entry`;
  for (const [k, x] of Object.entries(v)) if (x !== null && typeof x === "object") return `${name}.${k}: must be a string`;
  return undefined;
}

/** `min_healthy_replicas`: a whole number or a percentage (`33%`, 0-100). */
export function parseMinHealthy(v: unknown): { value: number; percent: boolean } | undefined | null {
  if (v === undefined || v === null || v === "") return undefined;
  const m = /^(\d+)(%)?$/.exec(String(v).trim());
  if (!m) return null;
  const value = Number(m[1]);
  if (m[2] && value > 100) return null;
  return { value, percent: m[2] !== undefined };
}

export function checkMinHealthy(parameters: ActionParameters): string | undefined {
  return parseMinHealthy(parameters.min_healthy_replicas) === null
    ? `min_healthy_replicas: must be a whole number or a percentage (0-100%), got ${JSON.stringify(parameters.min_healthy_replicas)}`
    : undefined;
}

/** The kind of the pod's first owner, as Talon reads it: `DaemonSet`, `StatefulSet`, `ReplicaSet`, ... or `StandalonePod`. */
export function podKind(pod: Pod): string {
  return pod.metadata.ownerReferences?.[0]?.kind ?? "StandalonePod";
}

/**
 * True when the pod's ReplicaSet has fewer ready replicas than `min_healthy_replicas` asks
 * (a percentage is of the ReplicaSet's desired replicas).
 */
export async function belowMinHealthy(pod: Pod, min: { value: number; percent: boolean }, signal?: AbortSignal): Promise<{ below: boolean; ready: number; desired: number }> {
  const owner = pod.metadata.ownerReferences?.[0];
  if (!owner) return { below: false, ready: 0, desired: 0 };
  const rs = await kube().get<{ spec?: { replicas?: number }; status?: { readyReplicas?: number } }>(resourcePath("apis/apps/v1", "replicasets", pod.metadata.namespace, owner.name), signal);
  const ready = rs.status?.readyReplicas ?? 0;
  const desired = rs.spec?.replicas ?? 0;
  const below = min.percent ? (desired === 0 ? true : (ready * 100) / desired < min.value) : ready < min.value;
  return { below, ready, desired };
}

export type { Json };

/**
 * kubernetes:delete — deletes the resource a k8s_audit alert names (ka.target.resource,
 * ka.target.name, ka.target.namespace), the kinds Falco Talon deletes. The uid is looked up
 * when the target is resolved and the delete carries it as a precondition.
 */
import type { Alert } from "../../../alert.js";
import type { Actionner, ResolveResult } from "../../actionner.js";
import { KubeApiError, resourcePath } from "../../kubernetes/client.js";
import { apiFailure, field, kube, missing } from "./common.js";

/** Resource → API group path and whether it is namespaced. */
export const DELETABLE: Readonly<Record<string, { api: string; namespaced: boolean }>> = {
  namespaces: { api: "api/v1", namespaced: false },
  configmaps: { api: "api/v1", namespaced: true },
  secrets: { api: "api/v1", namespaced: true },
  services: { api: "api/v1", namespaced: true },
  serviceaccounts: { api: "api/v1", namespaced: true },
  pods: { api: "api/v1", namespaced: true },
  deployments: { api: "apis/apps/v1", namespaced: true },
  daemonsets: { api: "apis/apps/v1", namespaced: true },
  statefulsets: { api: "apis/apps/v1", namespaced: true },
  replicasets: { api: "apis/apps/v1", namespaced: true },
  roles: { api: "apis/rbac.authorization.k8s.io/v1", namespaced: true },
  clusterroles: { api: "apis/rbac.authorization.k8s.io/v1", namespaced: false },
};

function pathOf(resource: string, namespace: string | undefined, name: string): string {
  const r = DELETABLE[resource]!;
  return resourcePath(r.api, resource, r.namespaced ? namespace : undefined, name);
}

const singular = (resource: string) => resource.replace(/s$/, "");

async function resolve(alert: Alert): Promise<ResolveResult> {
  const resource = field(alert, "ka.target.resource");
  const name = field(alert, "ka.target.name");
  const namespace = field(alert, "ka.target.namespace");
  if (resource === undefined || name === undefined) return missing(["ka.target.resource", "ka.target.name"].filter((f) => field(alert, f) === undefined));
  const kind = DELETABLE[resource];
  if (!kind) return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `kubernetes:delete does not delete ${resource} (it deletes ${Object.keys(DELETABLE).join(", ")})` };
  if (kind.namespaced && namespace === undefined) return missing(["ka.target.namespace"]);
  let obj: { metadata: { uid: string } } | undefined;
  try {
    obj = await kube().getOptional(pathOf(resource, namespace, name));
  } catch (err) {
    return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `looking up ${singular(resource)} ${name}: ${(err as Error).message}` };
  }
  const where = kind.namespaced ? `${singular(resource)} ${namespace}/${name}` : `${singular(resource)} ${name}`;
  if (!obj) return { ok: false, code: "RESPONSE_TARGET_GONE", message: `${where} does not exist` };
  const identity: Record<string, string> = { resource, name, uid: obj.metadata.uid };
  if (kind.namespaced) identity.namespace = namespace!;
  return { ok: true, target: { kind: singular(resource), description: where, identity } };
}

export const deleteResource: Actionner = {
  name: "kubernetes:delete",
  description: "Delete the resource a k8s_audit alert names (ka.target.*), bound to its uid",
  continueByDefault: false,
  checkParameters: () => [],
  resolve,
  async run(req) {
    const { resource, name, namespace, uid } = req.target.identity;
    if (!resource || !name || !uid || !DELETABLE[resource])
      return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `the recorded target ${req.target.description} has no known resource, name and uid`, retryable: false };
    const path = pathOf(resource, namespace, name);
    try {
      await kube().delete(path, uid, { signal: req.signal });
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) return { status: "gone", message: `${req.target.description} no longer exists` };
      if (err instanceof KubeApiError && err.conflict) return { status: "gone", message: `${req.target.description} was replaced (uid precondition ${uid} failed)` };
      return apiFailure(err, `deleting ${req.target.description}`);
    }
    const output = namespace ? `the ${singular(resource)} '${name}' in the namespace '${namespace}' has been deleted` : `the ${singular(resource)} '${name}' has been deleted`;
    return { status: "done", message: output, objects: { [singular(resource)]: namespace ? `${namespace}/${name}` : name } };
  },
};

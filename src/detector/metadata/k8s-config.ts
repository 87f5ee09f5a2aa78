/**
 * `detector.kubernetes`: where the Kubernetes metadata (k8smeta.* and k8s.* fields) comes
 * from. Off unless enabled; credentials from a kubeconfig file or, without one, from the
 * pod's service account (in-cluster); the node whose pods are watched.
 */
import { hostname } from "node:os";
import { joinPath, s } from "../../config/schema.js";
import { inClusterCredentials, kubeconfigCredentials, type K8sCredentials } from "./k8s-client.js";

export const kubernetesSchema = s
  .object({
    enabled: s.boolean().default(false).describe("Watch the API server for the metadata of this node's pods (k8smeta.* and k8s.* fields)."),
    kubeconfig: s
      .string()
      .optional()
      .describe("A kubeconfig file (its current context). Default: in-cluster, the pod's service account (KUBERNETES_SERVICE_HOST and /var/run/secrets/kubernetes.io/serviceaccount)."),
    node_name: s
      .string()
      .optional()
      .describe("The node whose pods are watched (spec.nodeName). Default: $NODE_NAME (set it from the downward API's spec.nodeName), else the host name."),
  })
  .refine((v, ctx, path) => {
    if (v.node_name !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v.node_name))
      ctx.error(joinPath(path, "node_name"), `must be a node name (lower-case letters, digits, '-', '.'), got ${JSON.stringify(v.node_name)}`);
  });

export interface KubernetesConfig {
  enabled: boolean;
  kubeconfig?: string;
  nodeName: string;
}

export function kubernetesConfig(v: { enabled: boolean; kubeconfig?: string | undefined; node_name?: string | undefined } | undefined): KubernetesConfig {
  const nodeName = v?.node_name ?? (process.env.NODE_NAME || hostname());
  return { enabled: v?.enabled ?? false, nodeName, ...(v?.kubeconfig !== undefined ? { kubeconfig: v.kubeconfig } : {}) };
}

/** The credentials the config names; throws K8sConfigError naming the key and the file. */
export function kubernetesCredentials(c: KubernetesConfig): K8sCredentials {
  return c.kubeconfig !== undefined ? kubeconfigCredentials(c.kubeconfig) : inClusterCredentials();
}

/**
 * `detector.k8s_audit`: the audit-webhook endpoint an API server posts its audit events to.
 * Defaults are the k8saudit plugin's (port 9765, path /k8s-audit), bound to loopback.
 */
import { joinPath, ParseContext, s } from "../../../config/schema.js";

/** The k8saudit plugin's webhookMaxBatchSize: 12 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 12 * 1024 * 1024;

export const k8sAuditSchema = s
  .object({
    enabled: s.boolean().default(false).describe("Listen for Kubernetes audit events (the `k8s_audit` source) and evaluate the k8s_audit rules of detector.rules_files."),
    address: s.string().default("127.0.0.1").describe("Address the audit endpoint binds to. Loopback by default; beyond it, set tls with client_ca."),
    port: s.int().range(0, 65535).default(9765).describe("Port of the audit endpoint (the k8saudit plugin's 9765)."),
    path: s.string().default("/k8s-audit").describe("Path the API server posts to (the k8saudit plugin's /k8s-audit)."),
    max_body_bytes: s.bytes().range(1024).default(DEFAULT_MAX_BODY_BYTES).describe("Largest accepted batch; a larger body gets 413 (the plugin's webhookMaxBatchSize, 12 MiB)."),
    max_in_flight: s
      .int()
      .range(1, 1024)
      .default(8)
      .describe("Batches read, evaluated and journaled at once; one more gets 429 with Retry-After, so memory stays within max_in_flight × max_body_bytes."),
    retry_after: s.duration().range(1000).default(1000).describe("The Retry-After a 429 or 503 answer carries (whole seconds, at least 1)."),
    request_timeout: s.duration().range(1000).default(30_000).describe("A request (headers and body) not fully received within this is cut."),
    tls: s
      .object({
        cert: s.string().notEmpty().optional().describe("PEM certificate (chain) file: serve HTTPS."),
        key: s.string().notEmpty().optional().describe("PEM private key file of `cert`."),
        client_ca: s.string().notEmpty().optional().describe("PEM CA file: require a client certificate it signed (the webhook kubeconfig's client-certificate)."),
      })
      .refine((tls, ctx, path) => {
        if ((tls.cert === undefined) !== (tls.key === undefined)) ctx.error(joinPath(path, tls.cert === undefined ? "cert" : "key"), "tls.cert and tls.key go together");
        if (tls.client_ca !== undefined && tls.cert === undefined) ctx.error(joinPath(path, "client_ca"), "needs tls.cert and tls.key (mTLS is TLS)");
      })
      .describe("TLS on the audit endpoint."),
  })
  .refine((v, ctx, path) => {
    if (!v.path.startsWith("/")) ctx.error(joinPath(path, "path"), `must start with '/', got ${JSON.stringify(v.path)}`);
  })
  .describe("The Kubernetes audit webhook endpoint (the k8s_audit source).");

export interface K8sAuditConfig {
  enabled: boolean;
  address: string;
  port: number;
  path: string;
  maxBodyBytes: number;
  maxInFlight: number;
  retryAfterMs: number;
  requestTimeoutMs: number;
  tls: { cert?: string; key?: string; clientCa?: string };
}

/** Reads `detector.k8s_audit`; problems name their key (detector.k8s_audit.port: ...). */
export function readK8sAuditConfig(section: unknown): { ok: true; config: K8sAuditConfig } | { ok: false; problems: string[] } {
  const ctx = new ParseContext();
  const v = k8sAuditSchema.parse(section ?? {}, ctx, "detector.k8s_audit");
  if (!ctx.ok) return { ok: false, problems: ctx.issues.filter((i) => i.severity === "error").map((i) => `${i.path}: ${i.message}`) };
  return {
    ok: true,
    config: {
      enabled: v.enabled,
      address: v.address,
      port: v.port,
      path: v.path,
      maxBodyBytes: v.max_body_bytes,
      maxInFlight: v.max_in_flight,
      retryAfterMs: v.retry_after,
      requestTimeoutMs: v.request_timeout,
      tls: {
        ...(v.tls.cert !== undefined ? { cert: v.tls.cert } : {}),
        ...(v.tls.key !== undefined ? { key: v.tls.key } : {}),
        ...(v.tls.client_ca !== undefined ? { clientCa: v.tls.client_ca } : {}),
      },
    },
  };
}

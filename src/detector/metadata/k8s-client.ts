/**
 * A minimal Kubernetes API client for the metadata watchers: credentials from a kubeconfig
 * file (its current context: client certificate, bearer token or token file; CA file or
 * inline data) or from the pod's service account (in-cluster), and list + watch of one
 * resource collection. One HTTPS connection pool for every watch.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { Agent, request } from "undici";
import { parse as parseYaml } from "yaml";
import { PeregrineError } from "../../errors.js";

export interface K8sCredentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Read on every request: a projected service-account token is rotated on disk. */
  token?: () => string;
  insecure?: boolean;
}

export class K8sConfigError extends PeregrineError {
  constructor(message: string) {
    super("KUBERNETES_CONFIG_INVALID", message);
    this.name = "K8sConfigError";
  }
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The service account's credentials, as a pod sees them. */
export function inClusterCredentials(): K8sCredentials {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new K8sConfigError("detector.kubernetes: in-cluster, but KUBERNETES_SERVICE_HOST is not set (not running in a pod?); set detector.kubernetes.kubeconfig");
  const tokenFile = `${SA_DIR}/token`;
  try {
    readFileSync(tokenFile);
  } catch (err) {
    throw new K8sConfigError(`detector.kubernetes: in-cluster, but the service-account token ${tokenFile} cannot be read: ${(err as Error).message}`);
  }
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${SA_DIR}/ca.crt`),
    token: () => readFileSync(tokenFile, "utf8").trim(),
  };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The current context of a kubeconfig file (paths in it are relative to the file). */
export function kubeconfigCredentials(file: string): K8sCredentials {
  let doc: Obj;
  try {
    doc = obj(parseYaml(readFileSync(file, "utf8")));
  } catch (err) {
    throw new K8sConfigError(`detector.kubernetes.kubeconfig: cannot read ${file}: ${(err as Error).message}`);
  }
  const at = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(dirname(file), p));
  const named = (list: unknown, name: string | undefined, what: string): Obj => {
    const items = Array.isArray(list) ? list.map(obj) : [];
    const hit = name === undefined ? items[0] : items.find((i) => i.name === name);
    if (!hit) throw new K8sConfigError(`detector.kubernetes.kubeconfig: ${file} has no ${what}${name ? ` named ${JSON.stringify(name)}` : ""}`);
    return obj(hit[what]);
  };
  const contextName = str(doc["current-context"]);
  const context = named(doc.contexts, contextName, "context");
  const cluster = named(doc.clusters, str(context.cluster), "cluster");
  const user = str(context.user) === undefined ? {} : named(doc.users, str(context.user), "user");
  const server = str(cluster.server);
  if (!server) throw new K8sConfigError(`detector.kubernetes.kubeconfig: ${file}: the cluster has no server`);
  const bytes = (data: unknown, path: unknown, what: string): Buffer | undefined => {
    try {
      if (str(data)) return Buffer.from(str(data)!, "base64");
      const p = at(str(path));
      return p === undefined ? undefined : readFileSync(p);
    } catch (err) {
      throw new K8sConfigError(`detector.kubernetes.kubeconfig: ${file}: ${what}: ${(err as Error).message}`);
    }
  };
  const creds: K8sCredentials = { server: server.replace(/\/+$/, "") };
  const ca = bytes(cluster["certificate-authority-data"], cluster["certificate-authority"], "certificate-authority");
  if (ca) creds.ca = ca;
  if (cluster["insecure-skip-tls-verify"] === true) creds.insecure = true;
  const cert = bytes(user["client-certificate-data"], user["client-certificate"], "client-certificate");
  const key = bytes(user["client-key-data"], user["client-key"], "client-key");
  if (cert) creds.cert = cert;
  if (key) creds.key = key;
  const token = str(user.token);
  const tokenFile = at(str(user.tokenFile));
  if (token) creds.token = () => token;
  else if (tokenFile) creds.token = () => readFileSync(tokenFile, "utf8").trim();
  return creds;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: T;
}

export class K8sHttpError extends PeregrineError {
  constructor(
    /** The API server's HTTP status (or a watch ERROR event's code). */
    readonly status: number,
    message: string,
  ) {
    super("KUBERNETES_API_ERROR", message);
    this.name = "K8sHttpError";
  }
}

export class K8sClient {
  private readonly agent: Agent;

  constructor(readonly creds: K8sCredentials) {
    this.agent = new Agent({
      connect: {
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert ? { cert: creds.cert } : {}),
        ...(creds.key ? { key: creds.key } : {}),
        rejectUnauthorized: creds.insecure !== true,
      },
      // watches are long-lived: the server ends them (timeoutSeconds), not us
      bodyTimeout: 0,
      headersTimeout: 30_000,
    });
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: "application/json" };
    const t = this.creds.token?.();
    if (t) h.authorization = `Bearer ${t}`;
    return h;
  }

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await request(`${this.creds.server}${path}`, { dispatcher: this.agent, headers: this.headers(), ...(signal ? { signal } : {}) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new K8sHttpError(res.statusCode, `GET ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }

  /**
   * Streams watch events (one JSON object a line) until the server ends the watch or the
   * signal aborts. A 410 (resourceVersion too old) arrives as an ERROR event: thrown as
   * K8sHttpError(410) so the caller lists again.
   */
  async watch<T>(path: string, resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<string> {
    const sep = path.includes("?") ? "&" : "?";
    const url = `${this.creds.server}${path}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    const res = await request(url, { dispatcher: this.agent, headers: this.headers(), signal });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new K8sHttpError(res.statusCode, `watch ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    let rv = resourceVersion;
    let buf = "";
    // a character split between two chunks must not be mangled (label values are UTF-8)
    const text = new StringDecoder("utf8");
    for await (const chunk of res.body) {
      buf += text.write(chunk as Buffer);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        const ev = JSON.parse(line) as { type: string; object: Obj };
        const meta = obj(ev.object.metadata);
        if (ev.type === "ERROR") {
          const code = typeof ev.object.code === "number" ? ev.object.code : 500;
          throw new K8sHttpError(code, `watch ${path}: ${str(ev.object.message) ?? "error"}`);
        }
        if (str(meta.resourceVersion)) rv = str(meta.resourceVersion)!;
        if (ev.type !== "ADDED" && ev.type !== "MODIFIED" && ev.type !== "DELETED") continue;
        // The caller names the resource's shape, as with get<T>(): the API server's JSON is trusted.
        onEvent({ type: ev.type, object: ev.object as T });
      }
    }
    return rv;
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

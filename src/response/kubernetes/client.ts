/**
 * The Kubernetes API calls the response actionners make: get, create, update, merge-patch and
 * delete (with a uid precondition, so a pod replaced under the same name is never hit), an
 * eviction, a container's log through the kubelet, and exec over a WebSocket
 * (`v5.channel.k8s.io`, the API server translates it to the kubelet's stream protocol).
 *
 * Credentials are the metadata client's (a kubeconfig's current context or the pod's service
 * account): one HTTPS connection pool, undici's, for requests and exec alike.
 */
import { Agent, request, WebSocket } from "undici";
import { inClusterCredentials, kubeconfigCredentials, type K8sCredentials } from "../../detector/index.js";
import { PeregrineError } from "../../errors.js";

export type Json = Record<string, unknown>;

/** An answer of the API server other than 2xx: `status` is its HTTP status, `reason` its Status reason. */
export class KubeApiError extends PeregrineError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super("KUBERNETES_API_ERROR", message);
    this.name = "KubeApiError";
  }

  /** 404: no such object (or it was deleted meanwhile). */
  get notFound(): boolean {
    return this.status === 404;
  }

  /** A precondition failed (uid) or the object changed: 409. */
  get conflict(): boolean {
    return this.status === 409;
  }

  /** 429, 5xx and timeouts pass; 4xx other than 408/429 do not. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export interface ExecResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** 0 on success, the command's exit code otherwise (-1 when the server gave none). */
  readonly exitCode: number;
  /** The server's Status message on a failure (exit code, or e.g. "executable file not found"). */
  readonly message: string;
}

export interface RequestOptions {
  readonly body?: unknown;
  /** application/json unless given (merge patches: application/merge-patch+json). */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** The answer as text instead of JSON (logs). */
  readonly text?: boolean;
}

const enc = encodeURIComponent;

/** Path of a namespaced core or group resource: `api/v1` or `apis/apps/v1`. */
export function resourcePath(apiPrefix: string, resource: string, namespace: string | undefined, name?: string, sub?: string): string {
  let p = `/${apiPrefix}`;
  if (namespace !== undefined) p += `/namespaces/${enc(namespace)}`;
  p += `/${resource}`;
  if (name !== undefined) p += `/${enc(name)}`;
  if (sub !== undefined) p += `/${sub}`;
  return p;
}

export class KubeActionClient {
  private readonly agent: Agent;

  constructor(readonly creds: K8sCredentials) {
    this.agent = new Agent({
      connect: {
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert ? { cert: creds.cert } : {}),
        ...(creds.key ? { key: creds.key } : {}),
        rejectUnauthorized: creds.insecure !== true,
      },
      headersTimeout: 30_000,
      bodyTimeout: 60_000,
    });
  }

  /** A kubeconfig's current context, or in-cluster credentials when no file is given. */
  static fromKubeconfig(file?: string): KubeActionClient {
    return new KubeActionClient(file !== undefined ? kubeconfigCredentials(file) : inClusterCredentials());
  }

  private headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { accept: "application/json", ...extra };
    const t = this.creds.token?.();
    if (t) h.authorization = `Bearer ${t}`;
    return h;
  }

  async request<T = Json>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    let res;
    try {
      res = await request(`${this.creds.server}${path}`, {
        method: method as "GET",
        dispatcher: this.agent,
        headers: this.headers(options.body !== undefined ? { "content-type": options.contentType ?? "application/json" } : undefined),
        ...(options.body !== undefined ? { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new KubeApiError(0, "Unreachable", `${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      let reason = "";
      let message = text.slice(0, 300);
      try {
        const status = JSON.parse(text) as Json;
        reason = typeof status.reason === "string" ? status.reason : "";
        if (typeof status.message === "string") message = status.message;
      } catch {
        /* not a Status object */
      }
      throw new KubeApiError(res.statusCode, reason, `${method} ${path}: HTTP ${res.statusCode}${reason ? ` ${reason}` : ""}: ${message}`);
    }
    return (options.text ? text : text === "" ? {} : JSON.parse(text)) as T;
  }

  get<T = Json>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, signal ? { signal } : {});
  }

  /** GET that answers undefined for 404 instead of throwing. */
  async getOptional<T = Json>(path: string, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.get<T>(path, signal);
    } catch (err) {
      if (err instanceof KubeApiError && err.notFound) return undefined;
      throw err;
    }
  }

  mergePatch<T = Json>(path: string, patch: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("PATCH", path, { body: patch, contentType: "application/merge-patch+json", ...(signal ? { signal } : {}) });
  }

  /** DELETE bound to the object's uid: 409 when the object under that name is another one. */
  delete(path: string, uid: string | undefined, options: { gracePeriodSeconds?: number; signal?: AbortSignal } = {}): Promise<Json> {
    const body: Json = { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" };
    if (uid !== undefined) body.preconditions = { uid };
    if (options.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = options.gracePeriodSeconds;
    return this.request("DELETE", path, { body, ...(options.signal ? { signal: options.signal } : {}) });
  }

  /** The eviction API (what `kubectl drain` uses: PodDisruptionBudgets are honoured, 429 when one forbids it). */
  evict(namespace: string, name: string, uid: string, signal?: AbortSignal): Promise<Json> {
    return this.request("POST", resourcePath("api/v1", "pods", namespace, name, "eviction"), {
      body: {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name, namespace },
        deleteOptions: { preconditions: { uid } },
      },
      ...(signal ? { signal } : {}),
    });
  }

  /** The last lines of a container's log, read through the kubelet. */
  logs(namespace: string, pod: string, options: { container?: string; tailLines?: number; signal?: AbortSignal }): Promise<string> {
    const q = new URLSearchParams();
    if (options.container) q.set("container", options.container);
    if (options.tailLines !== undefined) q.set("tailLines", String(options.tailLines));
    return this.request<string>("GET", `${resourcePath("api/v1", "pods", namespace, pod, "log")}?${q}`, { text: true, ...(options.signal ? { signal: options.signal } : {}) });
  }

  /**
   * Runs a command in a container (no stdin, no tty) and collects its output. The channel
   * protocol: every binary message starts with its stream's number (1 stdout, 2 stderr,
   * 3 the final Status as JSON).
   */
  exec(namespace: string, pod: string, container: string, command: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number; maxBytes?: number } = {}): Promise<ExecResult> {
    const q = new URLSearchParams({ container, stdout: "true", stderr: "true" });
    for (const c of command) q.append("command", c);
    const url = `${this.creds.server.replace(/^http/, "ws")}${resourcePath("api/v1", "pods", namespace, pod, "exec")}?${q}`;
    const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    return new Promise<ExecResult>((resolvePromise, reject) => {
      const ws = new WebSocket(url, {
        protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"],
        dispatcher: this.agent,
        headers: this.headers(),
      });
      ws.binaryType = "arraybuffer";
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let status: Json | undefined;
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (error) {
          try {
            ws.close();
          } catch {
            /* already closed */
          }
          reject(error);
          return;
        }
        const ok = status === undefined || status.status === "Success";
        let exitCode = ok ? 0 : -1;
        const causes = ((status?.details as Json | undefined)?.causes as Json[] | undefined) ?? [];
        const exit = causes.find((c) => c.reason === "ExitCode");
        if (exit && typeof exit.message === "string") exitCode = Number(exit.message);
        resolvePromise({
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err),
          exitCode,
          message: typeof status?.message === "string" ? status.message : "",
        });
      };
      const onAbort = () => finish(options.signal?.reason instanceof Error ? options.signal.reason : new Error("aborted"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => finish(new KubeApiError(408, "Timeout", `exec in ${namespace}/${pod}: no end after ${options.timeoutMs ?? 60_000} ms`)), options.timeoutMs ?? 60_000);
      ws.addEventListener("message", (ev) => {
        const data = Buffer.from(ev.data as ArrayBuffer);
        if (data.length === 0) return;
        const channel = data[0]!;
        const payload = data.subarray(1);
        if (channel === 1 || channel === 2) {
          size += payload.length;
          if (size > maxBytes) return finish(new KubeApiError(413, "TooLarge", `exec in ${namespace}/${pod}: more than ${maxBytes} bytes of output`));
          (channel === 1 ? out : err).push(Buffer.from(payload));
        } else if (channel === 3 && payload.length > 0) {
          try {
            status = JSON.parse(payload.toString("utf8")) as Json;
          } catch {
            status = { status: "Failure", message: payload.toString("utf8") };
          }
        }
      });
      ws.addEventListener("error", (ev) => {
        const e: unknown = "error" in ev ? ev.error : undefined;
        finish(new KubeApiError(0, "ExecFailed", `exec in ${namespace}/${pod}: ${e instanceof Error ? e.message : "the WebSocket failed (refused, forbidden or no such pod)"}`));
      });
      ws.addEventListener("close", () => finish());
    });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

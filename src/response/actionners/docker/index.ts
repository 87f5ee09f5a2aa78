/**
 * `docker:stop` and `docker:pause` through the Docker Engine API (the unix socket of
 * DOCKER_HOST, else /var/run/docker.sock). The target is the container's full id (64 hex
 * digits, never reused), resolved from the alert's `container.id` (or `container.name`).
 */
import { Agent, request } from "undici";
import type { ActionRequest, ActionResult, Actionner, ResolveResult } from "../../actionner.js";

const TIMEOUT_MS = 10_000;

export function dockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return host.slice("unix://".length);
  return "/var/run/docker.sock";
}

class DockerApi {
  private agent: Agent | undefined;
  constructor(private readonly socket: string) {}

  async call(method: "GET" | "POST", path: string, timeoutMs = TIMEOUT_MS, signal?: AbortSignal): Promise<{ status: number; body: string }> {
    this.agent ??= new Agent({ connect: { socketPath: this.socket }, keepAliveTimeout: 10_000 });
    const res = await request(`http://localhost${path}`, { method, dispatcher: this.agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(signal ? { signal } : {}) });
    return { status: res.statusCode, body: await res.body.text() };
  }
}

interface Inspect {
  Id: string;
  Name?: string;
  State?: { Status?: string; Running?: boolean; Paused?: boolean };
}

function field(alert: { output_fields: Record<string, unknown> }, key: string): string | undefined {
  const v = alert.output_fields[key];
  return typeof v === "string" && v !== "" && v !== "host" && v !== "<NA>" ? v : undefined;
}

function message(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

function dockerActionner(name: "docker:stop" | "docker:pause", api: DockerApi): Actionner {
  const verb = name === "docker:stop" ? "stop" : "pause";
  return {
    name,
    description: name === "docker:stop" ? "Stops the alert's container (SIGTERM, then SIGKILL after `timeout` seconds)." : "Pauses (freezes) every process of the alert's container.",
    continueByDefault: true,
    checkParameters(parameters) {
      const problems: string[] = [];
      for (const k of Object.keys(parameters)) if (!(name === "docker:stop" && k === "timeout")) problems.push(`unknown parameter '${k}'${name === "docker:stop" ? " (docker:stop takes timeout)" : " (docker:pause takes none)"}`);
      const t = parameters.timeout;
      if (t !== undefined && (typeof t !== "number" || !Number.isInteger(t) || t < 0)) problems.push("timeout: whole seconds, 0 or more");
      return problems;
    },
    async resolve(alert): Promise<ResolveResult> {
      const ref = field(alert, "container.id") ?? field(alert, "container.name");
      if (!ref) return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: "the alert has no container.id or container.name (or names the host): add %container.id to the rule's output" };
      let r: { status: number; body: string };
      try {
        r = await api.call("GET", `/containers/${encodeURIComponent(ref)}/json`);
      } catch (err) {
        return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `the Docker API does not answer: ${(err as Error).message}` };
      }
      if (r.status === 404) return { ok: false, code: "RESPONSE_TARGET_GONE", message: `container ${ref} no longer exists` };
      if (r.status !== 200) return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `inspecting container ${ref}: HTTP ${r.status} ${message(r.body)}` };
      const j = JSON.parse(r.body) as Inspect;
      const cname = (j.Name ?? "").replace(/^\//, "");
      return { ok: true, target: { kind: "container", description: `container ${cname || j.Id.slice(0, 12)} (${j.Id.slice(0, 12)})`, identity: { id: j.Id, name: cname } } };
    },
    async run(req: ActionRequest): Promise<ActionResult> {
      const id = req.target.identity.id!;
      const timeout = typeof req.parameters.timeout === "number" ? req.parameters.timeout : undefined;
      const path = `/containers/${encodeURIComponent(id)}/${verb}${timeout !== undefined ? `?t=${timeout}` : ""}`;
      let r: { status: number; body: string };
      try {
        r = await api.call("POST", path, TIMEOUT_MS + (timeout ?? 10) * 1000, req.signal);
      } catch (err) {
        return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `the Docker API does not answer: ${(err as Error).message}`, retryable: true };
      }
      const what = req.target.description;
      if (r.status === 204) return { status: "done", message: `${what} ${verb === "stop" ? "stopped" : "paused"}` };
      if (r.status === 304) return { status: "done", message: `${what} was already stopped` };
      if (r.status === 404) return { status: "gone", message: `${what} no longer exists` };
      if (r.status === 409) {
        const m = message(r.body);
        if (/already paused/i.test(m)) return { status: "done", message: `${what} was already paused` };
        if (/not running/i.test(m)) return { status: "gone", message: `${what} is not running: ${m}` };
        return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `${verb} ${what}: ${m}`, retryable: false };
      }
      return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `${verb} ${what}: HTTP ${r.status} ${message(r.body)}`, retryable: r.status >= 500 };
    },
  };
}

export function createDockerActionners(socket: string = dockerSocket()): Actionner[] {
  const api = new DockerApi(socket);
  return [dockerActionner("docker:stop", api), dockerActionner("docker:pause", api)];
}

export const dockerActionners: Actionner[] = createDockerActionners();

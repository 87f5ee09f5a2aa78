import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";
import { stringify } from "yaml";
import { freePort } from "./receiver.js";

const REPO = resolve(import.meta.dirname, "../..");

export interface RouterProcess {
  url: string;
  port: number;
  dataDir: string;
  configFile: string;
  proc: ChildProcess;
  /** stdout and stderr lines so far. */
  stdout: string[];
  stderr: string[];
  post(body: unknown, contentType?: string): Promise<{ status: number; json: unknown }>;
  get(path: string): Promise<{ status: number; json: unknown }>;
  /** Sends a signal and waits for exit; resolves the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

export interface StartRouterOptions {
  /** The config as an object; listen.port and storage.path are filled in when absent. */
  config?: Record<string, unknown>;
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  command?: "router" | "run";
  /** Waits for /healthz to answer (any status) before resolving. */
  waitReady?: boolean;
}

/** Spawns the real router as a separate process (`node --import tsx src/cli.ts router`). */
export async function startRouter(options: StartRouterOptions = {}): Promise<RouterProcess> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-test-"));
  const dataDir = options.dataDir ?? join(dir, "data");
  const port = options.port ?? (await freePort());
  const config: Record<string, unknown> = { ...(options.config ?? {}) };
  config.listen = { address: "127.0.0.1", ...(config.listen as object | undefined), port };
  config.storage = { path: dataDir, ...(config.storage as object | undefined) };
  const configFile = join(dir, "peregrine.yaml");
  writeFileSync(configFile, stringify(config));
  const proc = spawn(process.execPath, ["--import", "tsx", join(REPO, "src/cli.ts"), options.command ?? "router", "-c", configFile], {
    cwd: REPO,
    env: { ...process.env, PEREGRINE_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(proc.stdout!, stdout);
  collectLines(proc.stderr!, stderr);
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const rp: RouterProcess = {
    url,
    port,
    dataDir,
    configFile,
    proc,
    stdout,
    stderr,
    async post(body, contentType = "application/json") {
      const res = await request(`${url}/`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.body.text();
      return { status: res.statusCode, json: safeJson(text) };
    },
    async get(path) {
      const res = await request(`${url}${path}`);
      const text = await res.body.text();
      return { status: res.statusCode, json: safeJson(text) };
    },
    async stop(signal = "SIGTERM", timeoutMs = 60_000) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGKILL");
      await exited;
    },
  };
  if (options.waitReady !== false) {
    // A minute and a half: a router compiled by tsx on a loaded two-core machine was seen to need more than 30 s.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`router exited with ${proc.exitCode}:\n${stderr.join("\n")}`);
      try {
        const res = await request(`${url}/ping`);
        await res.body.dump();
        if (res.statusCode === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await rp.kill();
        throw new Error(`router did not start in 90 s:\n${stderr.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return rp;
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      into.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Polls until `check` returns true, or throws after `timeoutMs` with `what` in the message. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function makeAlert(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    rule: `Test rule ${i % 7}`,
    priority: ["Critical", "Warning", "Notice", "Error"][i % 4],
    output: `test alert ${i}`,
    time: new Date().toISOString(),
    output_fields: { "proc.name": "cat", "fd.name": "/etc/shadow", n: i },
    tags: ["test"],
    hostname: "host-a",
    ...extra,
  };
}

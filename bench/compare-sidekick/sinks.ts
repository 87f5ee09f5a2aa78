/** Starting the webhook sink process and reading what it counted. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { request } from "undici";
import type { SinkStats } from "./sink.js";

const REPO = resolve(import.meta.dirname, "../..");

export interface WebhookSink {
  url: string;
  pid: number;
  stats(): Promise<SinkStats>;
  reset(): Promise<void>;
  /** The sink answers 503 to deliveries for the next `ms` milliseconds. */
  fail(ms: number): Promise<void>;
  stop(): Promise<void>;
}

async function call(url: string, method: "GET" | "POST"): Promise<unknown> {
  const res = await request(url, { method });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${url}: ${res.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

export async function startWebhookSink(): Promise<WebhookSink> {
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", resolve(REPO, "bench/compare-sidekick/sink.ts")], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const first = await new Promise<string>((resolveLine, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", (line) => resolveLine(line));
    proc.once("exit", (code) => reject(new Error(`the webhook sink exited with ${code} before listening`)));
  });
  const { port } = JSON.parse(first) as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    url: `${base}/`,
    pid: proc.pid!,
    stats: async () => (await call(`${base}/__stats`, "GET")) as SinkStats,
    reset: async () => void (await call(`${base}/__reset`, "POST")),
    fail: async (ms) => void (await call(`${base}/__fail?ms=${ms}`, "POST")),
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

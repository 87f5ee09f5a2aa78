/**
 * The two routers under test, started the same way for every scenario: a fresh process
 * (so peak RSS belongs to that scenario alone) listening on loopback, told where the sinks are.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { startRouter } from "../../test/harness/router-process.js";
import { freePort } from "../../test/harness/receiver.js";

export interface Sinks {
  webhookUrl: string;
  /** Base URL of a Loki push API (the path is added per tool), when the scenario fans out. */
  loki?: { hostPort: string; pushPath: string };
  kafka?: { broker: string; topic: string };
}

export interface RunningTarget {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface Target {
  name: "peregrine" | "falcosidekick";
  start(sinks: Sinks): Promise<RunningTarget>;
}

async function waitHttp(url: string, what: string, isAlive: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!isAlive()) throw new Error(`${what} exited before answering:\n${log()}`);
    try {
      const res = await request(url);
      await res.body.dump();
      if (res.statusCode < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} in 30 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Peregrine with its journal on and fsync on (the defaults): 200 means durable. */
export const peregrine: Target = {
  name: "peregrine",
  async start(sinks) {
    // Short backoff and circuit so a 10 s outage is noticed over within seconds, not 30 s.
    const lane = { retry: { initial_ms: 200, max_ms: 2000 }, circuit: { open_ms: 2000 } };
    const outputs: Record<string, unknown>[] = [
      { name: "webhook", type: "webhook", url: sinks.webhookUrl, batch: { max_events: 200, max_wait_ms: 10 }, concurrency: 2, ...lane },
    ];
    if (sinks.loki)
      outputs.push({ name: "loki", type: "loki", url: sinks.loki.hostPort + sinks.loki.pushPath.replace(/\/loki\/api\/v1\/push$/, ""), batch: { max_events: 500, max_wait_ms: 50 }, concurrency: 2, ...lane });
    if (sinks.kafka)
      outputs.push({ name: "kafka", type: "kafka", brokers: [sinks.kafka.broker], topic: sinks.kafka.topic, batch: { max_events: 500, max_wait_ms: 20 }, concurrency: 2, ...lane });
    const rp = await startRouter({
      config: { log: { level: "warn" }, storage: { fsync: true }, outputs },
      env: { PEREGRINE_LOG_LEVEL: "warn" },
    });
    return {
      url: `${rp.url}/`,
      pid: rp.proc.pid!,
      async stop() {
        await rp.stop("SIGTERM", 20_000);
        rmSync(rp.dataDir, { recursive: true, force: true });
      },
    };
  },
};

/** Falcosidekick, configured through its environment variables only. */
export function falcosidekick(binary: string): Target {
  return {
    name: "falcosidekick",
    async start(sinks) {
      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: mkdtempSync(join(tmpdir(), "sidekick-home-")),
        LISTENADDRESS: "127.0.0.1",
        LISTENPORT: String(port),
        WEBHOOK_ADDRESS: sinks.webhookUrl,
      };
      if (sinks.loki) {
        env.LOKI_HOSTPORT = sinks.loki.hostPort;
        env.LOKI_ENDPOINT = sinks.loki.pushPath;
      }
      if (sinks.kafka) {
        env.KAFKA_HOSTPORT = sinks.kafka.broker;
        env.KAFKA_TOPIC = sinks.kafka.topic;
        // Wait for every in-sync replica, as Peregrine's Kafka output does by default (acks: all).
        env.KAFKA_REQUIREDACKS = "ALL";
      }
      const proc = spawn(binary, [], { env, stdio: ["ignore", "pipe", "pipe"] });
      // Sidekick logs a line per delivery; keep the tail for error messages, drop the rest.
      const tail: string[] = [];
      const keep = (chunk: Buffer) => {
        tail.push(chunk.toString("utf8"));
        if (tail.length > 20) tail.shift();
      };
      proc.stdout!.on("data", keep);
      proc.stderr!.on("data", keep);
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      const url = `http://127.0.0.1:${port}`;
      await waitHttp(`${url}/ping`, "falcosidekick", () => proc.exitCode === null, () => tail.join(""));
      return {
        url: `${url}/`,
        pid: proc.pid!,
        async stop() {
          if (proc.exitCode === null) {
            proc.kill("SIGTERM");
            const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
            await exited;
            clearTimeout(t);
          }
          rmSync(env.HOME!, { recursive: true, force: true });
        },
      };
    },
  };
}

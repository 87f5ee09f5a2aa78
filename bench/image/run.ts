/**
 * The image against the host: the same router (the compiled CLI), the same configuration and
 * the same load, once as `node bin/peregrine.js router` on the host and once in the image
 * (`docker run --network host peregrine:local router`), one after the other. Measures the
 * cold start (process or container start to /healthz answering 200), the accepted and
 * delivered alerts per second (autocannon, a webhook sink in its own process), and the
 * image's size.
 *
 *   npm run build && npm run image:build
 *   node --import tsx bench/image/run.ts [--seconds 10 --connections 32]
 *
 * Needs the docker service (root): npm run services -- up docker.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { docker, IMAGE_TAG } from "../../test/harness/image.js";
import { freePort } from "../../test/harness/receiver.js";
import { runLoad } from "../compare-sidekick/load.js";
import { startWebhookSink, type WebhookSink } from "../compare-sidekick/sinks.js";

const REPO = resolve(import.meta.dirname, "../..");
const QUIET_MS = 5000;

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Target {
  name: string;
  /** Starts the router with dir/peregrine.yaml (its port is `port`); resolves a stop function. */
  start(port: number, dir: string): Promise<() => Promise<void>>;
}

const host: Target = {
  name: "host (node bin/peregrine.js)",
  async start(_port, dir) {
    const proc = spawn(process.execPath, [join(REPO, "bin/peregrine.js"), "router", "-c", join(dir, "peregrine.yaml")], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    return async () => {
      proc.kill("SIGTERM");
      await exited;
    };
  },
};

const container: Target = {
  name: `container (${IMAGE_TAG}, --network host)`,
  async start(port, dir) {
    const name = `peregrine-bench-${process.pid}-${port}`;
    const r = await docker(["run", "-d", "--rm", "--name", name, "--network", "host", "-v", `${dir}:/bench:ro`, IMAGE_TAG, "router", "-c", "/bench/peregrine.yaml"]);
    if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
    return async () => {
      await docker(["stop", "-t", "20", name], 60_000);
    };
  },
};

async function healthyAfter(port: number, t0: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > 120_000) throw new Error("no /healthz within 120 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function measure(t: Target, sink: WebhookSink, perRequest: number, seconds: number, connections: number): Promise<string> {
  await sink.reset();
  const dir = mkdtempSync(join(tmpdir(), "peregrine-image-bench-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const isContainer = t === container;
  const config = {
    listen: { address: "127.0.0.1", port },
    storage: { path: isContainer ? "/var/lib/peregrine" : join(dir, "data") },
    log: { level: "warn" },
    outputs: [{ name: "webhook", type: "webhook", url: sink.url, batch: { max_events: 200, max_wait_ms: 10 }, concurrency: 2 }],
  };
  writeFileSync(join(dir, "peregrine.yaml"), stringify(config), { mode: 0o644 });
  const t0 = Date.now();
  const stop = await t.start(port, dir);
  try {
    const coldMs = await healthyAfter(port, t0);
    const started = Date.now();
    const load = await runLoad(`http://127.0.0.1:${port}/`, { seconds, connections, hostname: `image-bench-${started}`, perRequest });
    const accepted = load.accepted * perRequest;
    let last = -1;
    let changedAt = Date.now();
    for (;;) {
      const s = await sink.stats();
      if (s.unique !== last) {
        last = s.unique;
        changedAt = Date.now();
      }
      if (s.unique >= accepted || Date.now() - changedAt > QUIET_MS) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const s = await sink.stats();
    const deliveredSeconds = Math.max((s.lastAt - started) / 1000, load.seconds);
    return `| ${t.name} | ${perRequest} | ${fmt(coldMs)} | ${fmt(accepted / load.seconds)} | ${fmt(s.unique / deliveredSeconds)} | ${fmt(load.latencyP50Ms, 1)} | ${fmt(load.latencyP99Ms, 1)} | ${fmt(Math.max(0, accepted - s.unique))} |`;
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "32" } }, strict: true });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!existsSync(join(REPO, "dist/src/cli.js"))) throw new Error("the compiled CLI is missing: npm run build");
  const inspect = await docker(["image", "inspect", "-f", "{{.Size}}", IMAGE_TAG]);
  if (inspect.status !== 0) throw new Error(`${IMAGE_TAG} is missing: npm run image:build`);
  const sink = await startWebhookSink();
  const rows: string[] = [];
  try {
    for (const perRequest of [1, 100]) {
      for (const t of [host, container]) {
        console.error(`[bench] ${t.name}: ${perRequest} alert(s)/request`);
        rows.push(await measure(t, sink, perRequest, seconds, connections));
      }
    }
  } finally {
    await sink.stop();
  }
  console.log(`${IMAGE_TAG}: ${fmt(Number(inspect.stdout.trim()) / 1e6)} MB; ${seconds} s of load per run, ${connections} connections, webhook sink in its own process\n`);
  console.log("| router | alerts/request | cold start to /healthz ms | accepted alerts/s | delivered alerts/s | p50 ms | p99 ms | lost |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(`\nload average (1 min) at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);

/**
 * The compose stack, run for real: `docker compose` (Compose v2, the CLI plugin the docker
 * service installs) with docker-compose.yml and the test override
 * (test/fixtures/compose/docker-compose.test.yml, images built here, host network). An alert
 * posted from the host is read back from Kafka, the Loki-protocol store and S3 in the stack;
 * `cat /etc/shadow` on the host is detected by the detector in the peregrine container and
 * reaches the outputs; `docker compose restart peregrine` in the middle of a flood loses no
 * accepted alert (the journal is on a volume); `docker compose down` leaves no container.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPOSE_TEST_IMAGES, ensureComposeTestImages } from "../harness/compose-images.js";
import { buildImage, IMAGE_TAG } from "../harness/image.js";
import { readRecords } from "../harness/kafka-read.js";
import { acquireLock } from "../harness/lock.js";
import { REPO_ROOT } from "../harness/paths.js";
import { freePort, Receiver } from "../harness/receiver.js";
import { runCommand, type CommandRun } from "../harness/run-command.js";
import { serviceDef, services } from "../harness/services.js";
import { DOCKER_CONFIG, ensureCompose } from "../harness/services/compose.js";
import { DOCKER_HOST } from "../harness/services/docker.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("compose e2e skipped: the docker service runs dockerd, which needs root");

const OVERRIDE = "test/fixtures/compose/docker-compose.test.yml";
const PROJECT = `peregrine-compose-test-${process.pid}`;
const receiver = new Receiver();
const ports = { peregrine: 0, logs: 0, kafka: 0, controller: 0, s3: 0 };
let env: NodeJS.ProcessEnv = {};
let releaseSensor: (() => void) | undefined;
let up = false;

const dockerBin = () => (execFileSync("sh", ["-c", "command -v docker || echo /usr/bin/docker"]).toString().trim());

/** `docker compose -f docker-compose.yml -f <override> ARGS`, as the docs type it. */
function compose(args: string[], timeoutMs = 5 * 60_000): Promise<CommandRun> {
  return runCommand(dockerBin(), ["compose", "-f", "docker-compose.yml", "-f", OVERRIDE, ...args], { cwd: REPO_ROOT, env, timeoutMs });
}

async function must(args: string[], timeoutMs?: number): Promise<string> {
  const r = await compose(args, timeoutMs);
  if (r.status !== 0) throw new Error(`docker compose ${args.join(" ")} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const routerUrl = () => `http://127.0.0.1:${ports.peregrine}`;

async function post(alert: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${routerUrl()}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alert) });
  await res.arrayBuffer();
  return res.status;
}

/** Rows of the stack's Loki-protocol store (VictoriaLogs's LogsQL API) for one alert, by the uuid the output sends as structured metadata. */
async function logLines(uuid: string): Promise<string[]> {
  const body = new URLSearchParams({ query: `{deployment="compose"} uuid:="${uuid}"`, limit: "1000" });
  const res = await fetch(`http://127.0.0.1:${ports.logs}/select/logsql/query`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`LogsQL: HTTP ${res.status} ${text}`);
  return text.split("\n").filter((l) => l.includes(uuid));
}

/** Every archived alert line in the stack's S3 server that holds `marker`. */
async function s3Lines(marker: string): Promise<string[]> {
  const client = new S3Client({ endpoint: `http://127.0.0.1:${ports.s3}`, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "peregrine", secretAccessKey: "peregrine-secret" } });
  try {
    const lines: string[] = [];
    const page = await client.send(new ListObjectsV2Command({ Bucket: "peregrine-alerts" }));
    for (const o of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: "peregrine-alerts", Key: o.Key! }));
      const raw = Buffer.from(await got.Body!.transformToByteArray());
      const text = (o.Key!.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
      lines.push(...text.split("\n").filter((l) => l.includes(marker)));
    }
    return lines;
  } finally {
    client.destroy();
  }
}

describe.skipIf(!isRoot)("docker compose: the stack end to end (root: the docker service runs dockerd)", () => {
  beforeAll(async () => {
    await services.start("docker");
    await ensureCompose();
    // the stand-in images are made of what these services' provisioning resolves or builds
    for (const name of ["kafka", "victorialogs", "s3"]) await serviceDef(name).provision();
    await buildImage(IMAGE_TAG);
    await ensureComposeTestImages();
    await receiver.start();
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    env = {
      ...process.env,
      DOCKER_HOST,
      DOCKER_CONFIG,
      COMPOSE_PROJECT_NAME: PROJECT,
      COMPOSE_TEST_PEREGRINE_PORT: String(ports.peregrine),
      COMPOSE_TEST_LOGS_PORT: String(ports.logs),
      COMPOSE_TEST_KAFKA_PORT: String(ports.kafka),
      COMPOSE_TEST_KAFKA_CONTROLLER_PORT: String(ports.controller),
      COMPOSE_TEST_S3_PORT: String(ports.s3),
      COMPOSE_TEST_WEBHOOK_URL: receiver.url,
    };
    // the peregrine container runs the eBPF detector from `up` to `down`
    releaseSensor = await acquireLock("sensor", 30 * 60_000);
    up = true;
    await must(["up", "-d"], 10 * 60_000);
    await until("the router's /healthz in the stack", async () => ((await fetch(`${routerUrl()}/healthz`)).status === 200 ? true : undefined), 120_000);
  }, 120 * 60_000);

  afterAll(async () => {
    if (up) {
      const logs = await compose(["logs", "--no-color", "--tail", "40"]);
      if (process.env.COMPOSE_TEST_LOGS === "1") console.log(logs.stdout);
      await compose(["down", "-v", "--timeout", "20"]);
    }
    releaseSensor?.();
    await receiver.stop();
  }, 5 * 60_000);

  it("runs the stack's services, with `docker compose` itself being Compose v2", async () => {
    expect(await must(["version", "--short"])).toMatch(/^v?2\.\d+\.\d+/);
    const running = (await must(["ps", "--status", "running", "--services"])).trim().split("\n").sort();
    expect(running).toEqual(["kafka", "loki", "minio", "peregrine"]);
    // the override names the images the harness built
    const override = readFileSync(join(REPO_ROOT, OVERRIDE), "utf8");
    for (const ref of [IMAGE_TAG, ...Object.values(COMPOSE_TEST_IMAGES)]) expect(override).toContain(`image: ${ref}`);
  });

  it("an alert posted from the host is read back from Kafka, the Loki-protocol store and S3", async () => {
    const marker = `compose-${randomUUID()}`;
    const uuid = randomUUID();
    expect(await post({ uuid, rule: "Compose test", priority: "Warning", output: `compose alert ${marker}`, output_fields: { "proc.name": "sh", marker } })).toBe(200);

    const records = await readRecords(["falco-alerts"], 1, { timeoutMs: 60_000, client: { brokers: [`127.0.0.1:${ports.kafka}`] } });
    const onTopic = records.filter((r) => r.value.includes(marker));
    expect(onTopic).toHaveLength(1);
    expect(JSON.parse(onTopic[0]!.value)).toMatchObject({ rule: "Compose test", priority: "Warning" });

    const lines = await until("the alert in the Loki-protocol store", async () => {
      const l = await logLines(uuid);
      return l.length > 0 ? l : undefined;
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(marker);

    const archived = await until("the alert in the S3 archive", async () => {
      const l = await s3Lines(marker);
      return l.length > 0 ? l : undefined;
    });
    expect(archived).toHaveLength(1);
    expect(JSON.parse(archived[0]!)).toMatchObject({ rule: "Compose test", output: `compose alert ${marker}` });
  });

  it("cat /etc/shadow on the host is detected by the detector in its container and reaches the outputs", async () => {
    const marker = `compose-shadow-${process.pid}-${Date.now()}`;
    // the detector attaches a moment after /healthz answers: act every 2 s until one is caught
    let last = 0;
    const alert = await until(
      "the detector's alert at the webhook output",
      async () => {
        if (Date.now() - last > 2000) {
          execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${marker} > /dev/null 2>&1; true`]);
          last = Date.now();
        }
        return receiver
          .alerts()
          .find((a) => a.rule === "Read sensitive file untrusted" && String((a.output_fields as Record<string, unknown>)["proc.cmdline"]).includes(marker));
      },
      120_000,
    );
    expect(alert).toMatchObject({ priority: "Warning", source: "syscall" });
    expect(alert.output_fields).toMatchObject({ "proc.name": "cat", "fd.name": "/etc/shadow" });
    // the same alert, by its uuid, in the stack's log store
    const lines = await until("the detector's alert in the Loki-protocol store", async () => {
      const l = await logLines(alert.uuid);
      return l.length > 0 ? l : undefined;
    });
    expect(lines.length).toBeGreaterThan(0);
  });

  it("`docker compose restart peregrine` in the middle of a flood loses no accepted alert", async () => {
    const run = `flood-${randomUUID()}`;
    const total = 3000;
    const accepted = new Set<string>();
    let next = 0;
    let restarted: CommandRun | undefined;
    const floodStart = Date.now();
    // 8 senders; an alert is sent until the router answers 200 (a refused connection while the
    // container restarts is retried, with the same uuid)
    const sender = async () => {
      while (next < total) {
        const i = next++;
        const uuid = randomUUID();
        const alert = { uuid, rule: "Compose flood", priority: "Notice", output: `${run} ${i}`, output_fields: { run, i } };
        for (;;) {
          const status = await post(alert).catch(() => 0);
          if (status === 200) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        accepted.add(uuid);
        if (i === Math.floor(total / 3)) restarted = await compose(["restart", "peregrine"], 120_000);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(restarted?.status, restarted ? `${restarted.stdout}${restarted.stderr}` : "the restart never ran").toBe(0);
    expect(accepted.size).toBe(total);
    const delivered = await until(
      "every accepted flood alert at the webhook output",
      async () => {
        const got = new Set(receiver.alerts().filter((a) => (a.output_fields as Record<string, unknown> | undefined)?.run === run).map((a) => a.uuid));
        return got.size >= total ? got : undefined;
      },
      180_000,
    );
    const missing = [...accepted].filter((u) => !delivered.has(u));
    expect(missing).toEqual([]);
    // and the router did restart: its container started after the flood began
    const id = (await must(["ps", "-q", "peregrine"])).trim();
    const started = await runCommand(dockerBin(), ["inspect", "-f", "{{.State.StartedAt}}", id], { env });
    expect(Date.parse(started.stdout.trim())).toBeGreaterThan(floodStart);
  });

  it("`docker compose down` leaves no container behind", async () => {
    await must(["down", "--timeout", "20"], 5 * 60_000);
    const r = await runCommand(dockerBin(), ["ps", "-a", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--format", "{{.Names}}"], { env });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("");
    // the journal's volume outlives `down`; `down -v` removes it
    const volumes = await runCommand(dockerBin(), ["volume", "ls", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--format", "{{.Name}}"], { env });
    expect(volumes.stdout).toContain(`${PROJECT}_peregrine-data`);
    await must(["down", "-v"]);
    const after = await runCommand(dockerBin(), ["volume", "ls", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--format", "{{.Name}}"], { env });
    expect(after.stdout.trim()).toBe("");
  });
});

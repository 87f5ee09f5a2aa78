/**
 * The docker-compose deployment, checked without a Docker engine: Debian's docker-compose
 * validates and resolves the file, every file it mounts exists, the peregrine.yaml it mounts
 * passes `peregrine config check`, services point at each other consistently, and the
 * Grafana dashboard only queries metrics a real router exports.
 */
import { spawnSync } from "node:child_process";
import { runCommand, type CommandRun } from "../harness/run-command.js";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, posix, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_CONFIG_FILE } from "../../src/config/index.js";
import { Receiver } from "../harness/receiver.js";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

const REPO = resolve(import.meta.dirname, "../..");
const COMPOSE = "/usr/bin/docker-compose";

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  privileged?: boolean;
  pid?: string;
  environment?: Record<string, string | number | null>;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean })[];
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: unknown[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

async function ensureCompose(): Promise<void> {
  if (existsSync(COMPOSE)) return;
  const r = await runCommand("sh", [join(REPO, "scripts/install-debian-tools.sh"), `${COMPOSE}=docker-compose`]);
  if (r.status !== 0 || !existsSync(COMPOSE)) throw new Error(`could not install docker-compose (exit ${r.status}); apt-get install -y docker-compose`);
}

/** `docker-compose config`: validates the file and prints it resolved (defaults of ${VAR:-x} applied). */
function composeConfig(env: Record<string, string> = {}): Promise<CommandRun> {
  // Only PATH and HOME: variables of the caller's shell must not leak into the resolution.
  return runCommand(COMPOSE, ["-f", "docker-compose.yml", "config"], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
  });
}

/** Volume entries as {source, target, readOnly}, whatever the syntax. */
function binds(service: ComposeService): { source: string; target: string; readOnly: boolean }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== "string") return { source: v.source, target: v.target, readOnly: v.read_only === true };
    const [source, target, mode] = v.split(":");
    return { source: source!, target: target ?? source!, readOnly: mode === "ro" };
  });
}

/** `${NAME}` references outside comments. */
function envReferences(yamlText: string): string[] {
  const names = new Set<string>();
  for (const line of yamlText.split("\n")) {
    const code = line.replace(/(^|\s)#.*$/, "");
    for (const m of code.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1]!);
  }
  return [...names];
}

async function configCheck(file: string, env: Record<string, string>): Promise<{ status: number | null; out: string }> {
  const r = await runCommand(process.execPath, ["--import", "tsx", "src/cli.ts", "config", "check", "-c", file], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const PROMQL_WORDS = new Set([
  "sum", "by", "without", "rate", "irate", "increase", "max", "min", "avg", "count", "or", "and", "unless", "on", "ignoring",
  "group_left", "group_right", "histogram_quantile", "vector", "label_values", "topk", "bottomk", "le", "offset", "bool",
  "abs", "clamp_min", "clamp_max", "delta", "deriv", "time", "scalar", "absent", "quantile", "stddev", "changes", "resets",
]);

/** Metric names in a PromQL expression: identifiers outside strings, label matchers and ranges. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    // label_values(metric, label): the second argument is a label
    .replace(/\blabel_values\(([^,()]+),\s*[A-Za-z_]+\s*\)/g, "label_values($1)")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    // label lists after by/without/on/ignoring
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?[A-Za-z_]+\}?/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const id = m[0];
    if (PROMQL_WORDS.has(id)) continue;
    const after = stripped.slice(m.index! + id.length).trimStart();
    if (after.startsWith("(")) continue; // a function
    names.add(id);
  }
  return [...names];
}

interface Panel {
  type: string;
  title: string;
  id: number;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

describe("docker-compose deployment", () => {
  let compose: ComposeFile;
  let resolved: ComposeFile;

  beforeAll(async () => {
    await ensureCompose();
    compose = parse(readFileSync(join(REPO, "docker-compose.yml"), "utf8")) as ComposeFile;
    const r = await composeConfig();
    if (r.status !== 0) throw new Error(`docker-compose config failed:\n${r.stderr}`);
    resolved = parse(r.stdout) as ComposeFile;
  });

  it("is valid for docker-compose and has the whole stack", () => {
    expect(Object.keys(resolved.services).sort()).toEqual(["grafana", "kafka", "loki", "minio", "minio-init", "peregrine", "prometheus"]);
    const p = resolved.services.peregrine!;
    expect(p.privileged).toBe(true);
    expect(p.pid).toBe("host");
    expect(p.command).toEqual(["run", "-c", "/etc/peregrine/peregrine.yaml"]);
    const targets = binds(compose.services.peregrine!);
    expect(targets).toContainEqual({ source: "/sys/kernel/btf", target: "/sys/kernel/btf", readOnly: true });
    expect(targets).toContainEqual({ source: "/sys/kernel/tracing", target: "/sys/kernel/tracing", readOnly: true });
    expect(targets).toContainEqual({ source: "./deploy/peregrine.yaml", target: "/etc/peregrine/peregrine.yaml", readOnly: true });
    // The bucket exists before peregrine starts writing to it.
    expect((p.depends_on as Record<string, { condition: string }>)["minio-init"]).toEqual({ condition: "service_completed_successfully" });
    // A broken file is refused (the check is not a rubber stamp).
    const bad = spawnSync(COMPOSE, ["-f", "-", "config"], { cwd: REPO, encoding: "utf8", input: "services:\n  x:\n    image: 3\n    privileged: maybe\n" });
    expect(bad.status).not.toBe(0);
  });

  it("mounts only files and folders that exist in the repository", () => {
    let checked = 0;
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const b of binds(svc)) {
        if (!b.source.startsWith(".")) continue; // named volumes and host paths (/sys/...) live on the Docker host
        const path = join(REPO, b.source);
        expect(existsSync(path), `${name}: ${b.source} is mounted but missing`).toBe(true);
        // A mount whose target is a file must come from a file, not a folder.
        if (/\.(ya?ml|json|sh)$/.test(b.target)) expect(statSync(path).isFile(), `${name}: ${b.source} should be a file`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it("builds from files that exist: every COPY source of the Dockerfile", () => {
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
    const ignored = readFileSync(join(REPO, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const sources: string[] = [];
    for (const line of dockerfile.split("\n")) {
      const m = /^COPY\s+(?!--from)(.+)$/.exec(line.trim());
      if (!m) continue;
      const parts = m[1]!.split(/\s+/);
      sources.push(...parts.slice(0, -1));
    }
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      const path = join(REPO, src);
      expect(existsSync(path), `Dockerfile copies ${src}, which is missing`).toBe(true);
      // An empty folder is not in a clone, so the build would fail on it.
      if (statSync(path).isDirectory()) expect(readdirSync(path, { recursive: true }).length, `Dockerfile copies ${src}, which is empty`).toBeGreaterThan(0);
      const top = src.replace(/\/$/, "").split("/")[0]!;
      expect(ignored.includes(top) || ignored.includes(src.replace(/\/$/, "")), `${src} is excluded by .dockerignore`).toBe(false);
    }
    expect(dockerfile).toMatch(/^FROM node:20-slim|ARG NODE_IMAGE=node:20-slim/m);
    expect(dockerfile).toMatch(/make -C sensor/);
  });

  it("the image's default config is the one its CMD names, with the journal on its volume", () => {
    // Final stage only, continuation lines joined.
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
    const stage = dockerfile.split(/^FROM\s/m).at(-1)!;
    const workdir = [...stage.matchAll(/^WORKDIR\s+(\S+)/gm)].at(-1)?.[1];
    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(stage)![1]!) as string[];
    const imageConfig = cmd[cmd.indexOf("-c") + 1]!;
    expect(workdir).toBeDefined();
    // `docker run IMAGE router` or `peregrine dlq list` in the container pass no -c: the CLI's
    // default file, relative to WORKDIR, must lead to the same config.
    const links = [...stage.matchAll(/\bln\s+-s\s+(\S+)\s+(\S+)/g)].map((m) => [m[1], m[2]]);
    expect(links, `${posix.join(workdir!, DEFAULT_CONFIG_FILE)} should link to ${imageConfig}`).toContainEqual([imageConfig, posix.join(workdir!, DEFAULT_CONFIG_FILE)]);
    // The config copied there keeps its journal on the declared volume.
    const copied = /^COPY\s+(\S+)\s+(\S+)\s*$/gm;
    const source = [...stage.matchAll(copied)].find((m) => m[2] === imageConfig)?.[1];
    expect(source, `nothing is copied to ${imageConfig}`).toBeDefined();
    const storage = (parse(readFileSync(join(REPO, source!), "utf8")) as { storage: { path: string } }).storage.path;
    const volumes = [...stage.matchAll(/^VOLUME\s+(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(volumes).toContain(storage);
  });

  it("mounts a peregrine.yaml that passes `peregrine config check` with the environment compose gives it", async () => {
    const file = join(REPO, "deploy/peregrine.yaml");
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(resolved.services.peregrine!.environment ?? {})) env[k] = v === null ? "" : String(v);
    const refs = envReferences(readFileSync(file, "utf8"));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(Object.keys(env), `deploy/peregrine.yaml needs \${${ref}}, which docker-compose.yml does not set`).toContain(ref);
    const r = await configCheck("deploy/peregrine.yaml", env);
    expect(r.out).toMatch(/valid; outputs: /);
    expect(r.status, r.out).toBe(0);
    for (const type of ["loki", "kafka", "s3", "stdout"]) expect(r.out).toContain(`(${type})`);
    // Without the variables the check names what is missing (it really reads the file).
    const missing = await configCheck("deploy/peregrine.yaml", {});
    expect(missing.status).toBe(1);
    expect(missing.out).toContain("S3_ACCESS_KEY_ID");
    // The image's built-in config is valid too.
    expect((await configCheck("deploy/docker/peregrine.yaml", {})).status).toBe(0);
  });

  it("points every service at the others consistently", () => {
    const cfg = parse(readFileSync(join(REPO, "deploy/peregrine.yaml"), "utf8")) as {
      listen: { port: number };
      storage: { path: string };
      outputs: { type: string; url?: string; brokers?: string[]; endpoint?: string; bucket?: string }[];
    };
    const port = cfg.listen.port;
    // Published on the host's loopback only: the stack's router takes alerts without a token.
    const ports = resolved.services.peregrine!.ports ?? [];
    expect(ports).toHaveLength(1);
    const published = ports[0] as string | { target?: number; host_ip?: string };
    if (typeof published === "string") expect(published).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+:${port}(/tcp)?$`));
    else expect(published).toMatchObject({ target: port, host_ip: "127.0.0.1" });
    // The journal is on a named volume, not in the container's writable layer.
    expect(binds(compose.services.peregrine!).some((b) => b.target === cfg.storage.path && !b.source.startsWith("/") && !b.source.startsWith("."))).toBe(true);
    const byType = new Map(cfg.outputs.map((o) => [o.type, o]));
    expect(new URL(byType.get("loki")!.url!).host).toBe("loki:3100");
    expect(byType.get("kafka")!.brokers).toEqual(["kafka:9092"]);
    expect(String(resolved.services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS)).toContain("PLAINTEXT://kafka:9092");
    expect(new URL(byType.get("s3")!.endpoint!).host).toBe("minio:9000");
    const bucketScript = readFileSync(join(REPO, "deploy/minio/create-bucket.sh"), "utf8");
    expect(bucketScript).toContain(`BUCKET=\${BUCKET:-${byType.get("s3")!.bucket}}`);
    const minioEnv = resolved.services.minio!.environment!;
    const pEnv = resolved.services.peregrine!.environment!;
    expect(pEnv.S3_ACCESS_KEY_ID).toBe(minioEnv.MINIO_ROOT_USER);
    expect(pEnv.S3_SECRET_ACCESS_KEY).toBe(minioEnv.MINIO_ROOT_PASSWORD);

    const prom = parse(readFileSync(join(REPO, "deploy/prometheus/prometheus.yml"), "utf8")) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prom.scrape_configs.find((j) => j.job_name === "peregrine")!;
    expect(job.metrics_path ?? "/metrics").toBe("/metrics");
    expect(job.static_configs[0]!.targets).toEqual([`peregrine:${port}`]);

    const ds = parse(readFileSync(join(REPO, "deploy/grafana/provisioning/datasources/datasources.yaml"), "utf8")) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources.map((d) => [d.type, d.url]).sort()).toEqual([
      ["loki", "http://loki:3100"],
      ["prometheus", "http://prometheus:9090"],
    ]);
    const providers = parse(readFileSync(join(REPO, "deploy/grafana/provisioning/dashboards/dashboards.yaml"), "utf8")) as {
      providers: { options: { path: string } }[];
    };
    const dashPath = providers.providers[0]!.options.path;
    const dashMount = binds(compose.services.grafana!).find((b) => b.target === dashPath);
    expect(dashMount, `Grafana reads dashboards from ${dashPath}, which nothing mounts`).toBeDefined();
    expect(readdirSync(join(REPO, dashMount!.source))).toContain("peregrine.json");
    // The bucket script is valid shell.
    expect(spawnSync("sh", ["-n", join(REPO, "deploy/minio/create-bucket.sh")]).status).toBe(0);
    const home = String(resolved.services.grafana!.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH);
    expect(home).toBe(`${dashPath}/peregrine.json`);
    const loki = parse(readFileSync(join(REPO, "deploy/loki/config.yaml"), "utf8")) as { server: { http_listen_port: number } };
    expect(loki.server.http_listen_port).toBe(3100);
  });

  describe("the Grafana dashboard", () => {
    const dashboard = JSON.parse(readFileSync(join(REPO, "deploy/grafana/dashboards/peregrine.json"), "utf8")) as {
      uid: string;
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
    };
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    let router: RouterProcess;
    const receiver = new Receiver();
    let exported: Set<string>;

    beforeAll(async () => {
      await receiver.start();
      receiver.behavior = (r) => (r.body.includes('"Critical"') ? { status: 400 } : { status: 200 });
      router = await startRouter({
        config: {
          outputs: [
            { name: "hook", type: "webhook", url: receiver.url, retry: { initial_ms: 20, max_ms: 50 } },
            { name: "down", type: "webhook", url: "http://127.0.0.1:9/", retry: { initial_ms: 20, max_ms: 50 }, circuit: { failure_threshold: 1 } },
          ],
        },
      });
      for (let i = 0; i < 8; i++) expect((await router.post(makeAlert(i))).status).toBe(200);
      await router.post("{not json");
      await waitUntil(() => receiver.requests.length >= 8, 60_000, "deliveries");
      const res = await fetch(`${router.url}/metrics`);
      const text = await res.text();
      exported = new Set<string>();
      for (const line of text.split("\n")) {
        const m = /^# TYPE (\S+) (\S+)/.exec(line);
        if (!m) continue;
        exported.add(m[1]!);
        if (m[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) exported.add(m[1]! + s);
        if (m[2] === "summary") for (const s of ["_sum", "_count"]) exported.add(m[1]! + s);
      }
    });
    afterAll(async () => {
      await router?.stop();
      await receiver.stop();
    });

    it("queries only metrics the router exports", () => {
      expect(exported.has("peregrine_alerts_received_total")).toBe(true);
      const used = new Map<string, string>();
      const exprs: { where: string; expr: string }[] = [];
      for (const p of panels)
        for (const t of p.targets ?? []) if ((t.datasource ?? p.datasource)?.type === "prometheus") exprs.push({ where: `panel "${p.title}"`, expr: t.expr });
      for (const v of dashboard.templating.list) {
        if (v.type !== "query") continue;
        const q = typeof v.query === "string" ? v.query : (v.query as { query: string }).query;
        exprs.push({ where: `variable $${v.name}`, expr: q });
      }
      expect(exprs.length).toBeGreaterThan(15);
      for (const { where, expr } of exprs) {
        const names = metricNames(expr);
        expect(names.length, `${where}: no metric in ${expr}`).toBeGreaterThan(0);
        for (const n of names) used.set(n, where);
      }
      const unknown = [...used.entries()].filter(([n]) => !exported.has(n)).map(([n, where]) => `${n} (${where})`);
      expect(unknown, `the dashboard queries metrics the router does not export`).toEqual([]);
      // The main families are all on the dashboard.
      for (const n of ["peregrine_alerts_received_total", "peregrine_output_delivered_total", "peregrine_output_queue_depth", "peregrine_output_circuit_state", "peregrine_output_dead_lettered_total", "peregrine_ingest_rejected_total"])
        expect(used.has(n), `${n} is not on the dashboard`).toBe(true);
    });

    it("is well-formed: unique panel ids, on the 24-column grid, provisioned datasources", () => {
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      const ds = parse(readFileSync(join(REPO, "deploy/grafana/provisioning/datasources/datasources.yaml"), "utf8")) as { datasources: { uid: string }[] };
      const uids = new Set(ds.datasources.map((d) => d.uid));
      for (const p of panels) {
        if (p.type === "row") continue;
        expect(uids.has(p.datasource!.uid), `${p.title}: datasource ${p.datasource!.uid} is not provisioned`).toBe(true);
      }
    });

    it("parses PromQL names the way the check assumes", () => {
      expect(metricNames('sum by (output, le) (rate(peregrine_x_bucket{output=~"$output"}[$__rate_interval]))')).toEqual(["peregrine_x_bucket"]);
      expect(metricNames("count(peregrine_c == 2) or vector(0)")).toEqual(["peregrine_c"]);
      expect(metricNames('a_total{k="b_total"} / ignoring(k) c_total')).toEqual(["a_total", "c_total"]);
      expect(metricNames("label_values(peregrine_y_total, output)")).toEqual(["peregrine_y_total"]);
    });
  });
});

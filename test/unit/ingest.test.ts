import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../src/config/index.js";
import { buildServer } from "../../src/ingest/server.js";
import { Router } from "../../src/router.js";

/** A real router (real journal on disk, no outputs) behind fastify's in-process injection. */
async function setup(tokens: string[] = []): Promise<{ app: FastifyInstance; router: Router }> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-ingest-"));
  const file = join(dir, "peregrine.yaml");
  writeFileSync(file, `storage: { path: ${dir}/data, fsync: false }\ningest: { max_body_bytes: 64KiB, auth: { tokens: ${JSON.stringify(tokens)} } }\noutputs: []\n`);
  const { config, issues } = loadConfig(file, {});
  if (!config) throw new Error(JSON.stringify(issues));
  const router = new Router(config, pino({ level: "silent" }));
  router.start();
  return { app: buildServer(router), router };
}

const good = { rule: "Terminal shell in container", priority: "Notice", output: "A shell was spawned", time: "2024-05-01T10:00:00.123456789Z", output_fields: { "proc.name": "bash", "evt.num": 12 }, tags: ["shell"], hostname: "node-1" };

describe("HTTP ingest", () => {
  let app: FastifyInstance;
  let router: Router;
  beforeAll(async () => {
    ({ app, router } = await setup());
  });
  afterAll(async () => {
    await router.stop(0);
  });

  const post = (payload: string, contentType = "application/json") => app.inject({ method: "POST", url: "/", payload, headers: { "content-type": contentType } });

  it("answers 200 with the uuid once journaled, keeping a producer's uuid", async () => {
    const res = await post(JSON.stringify({ ...good, uuid: "11111111-2222-4333-8444-555555555555" }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ uuid: "11111111-2222-4333-8444-555555555555" });
    expect(router.recentAlerts(1)[0]!.time).toBe(good.time);
  });

  it("takes a JSON array and NDJSON", async () => {
    const arr = await post(JSON.stringify([good, good]));
    expect(arr.json()).toMatchObject({ accepted: 2 });
    const nd = await post(`${JSON.stringify(good)}\n${JSON.stringify(good)}\n${JSON.stringify(good)}`, "application/x-ndjson");
    expect(nd.json()).toMatchObject({ accepted: 3 });
  });

  it.each([
    ["invalid JSON", "{oops", 400, "INGEST_INVALID_JSON", undefined],
    ["wrong type", JSON.stringify({ ...good, tags: "x" }), 400, "INGEST_INVALID_FIELD", "tags"],
    ["unknown priority", JSON.stringify({ ...good, priority: "urgent" }), 400, "INGEST_INVALID_FIELD", "priority"],
    ["missing rule", JSON.stringify({ priority: "Debug" }), 400, "INGEST_INVALID_FIELD", "rule"],
    ["empty body", "", 400, "INGEST_EMPTY_BODY", undefined],
  ])("%s → %i %s", async (_name, body, status, code, field) => {
    const res = await post(body);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    if (field) expect(res.json().error.field).toBe(field);
  });

  it("rejects a batch whole, naming the index and field", async () => {
    const before = router.recentAlerts().length;
    const res = await post(JSON.stringify([good, { ...good, hostname: 5 }]));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "INGEST_INVALID_FIELD", field: "hostname", index: 1 });
    expect(router.recentAlerts().length).toBe(before);
  });

  it("413 over max_body_bytes, 415 for non-JSON, 405 for GET /, 404 elsewhere", async () => {
    const big = await post(JSON.stringify({ ...good, output: "x".repeat(70_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe("INGEST_BODY_TOO_LARGE");
    const form = await post("a=b", "application/x-www-form-urlencoded");
    expect(form.statusCode).toBe(415);
    expect(form.json().error.code).toBe("INGEST_UNSUPPORTED_MEDIA_TYPE");
    const get = await app.inject({ method: "GET", url: "/" });
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe("POST");
    expect((await app.inject({ method: "GET", url: "/nope" })).statusCode).toBe(404);
  });

  it("405 for another method on / whatever its body: the method is judged before the content type", async () => {
    for (const method of ["PUT", "PATCH", "DELETE"] as const) {
      for (const headers of [{ "content-type": "text/plain" }, { "content-type": "application/json" }, {}]) {
        const res = await app.inject({ method, url: "/", payload: "a=b", headers });
        expect(res.statusCode, `${method} ${JSON.stringify(headers)}`).toBe(405);
        expect(res.headers.allow).toBe("POST");
        expect(res.json().error.code).toBe("INGEST_METHOD_NOT_ALLOWED");
      }
    }
  });

  it("serves /ping, /healthz, /metrics and POST /test", async () => {
    expect((await app.inject({ url: "/ping" })).body).toBe("pong\n");
    const health = await app.inject({ url: "/healthz" });
    expect(health.statusCode).toBe(200);
    expect(health.json().journal.writable).toBe(true);
    const test = await app.inject({ method: "POST", url: "/test" });
    expect(test.statusCode).toBe(200);
    const metrics = (await app.inject({ url: "/metrics" })).body;
    expect(metrics).toMatch(/peregrine_alerts_received_total\{priority="Debug",source="debug"\} 1/);
    expect(metrics).toMatch(/peregrine_ingest_rejected_total\{reason="INGEST_INVALID_FIELD"\}/);
    expect(metrics).toMatch(/peregrine_process_resident_memory_bytes/);
  });

  it("fuzz: 10,000 random and mutated bodies never yield a 5xx", async () => {
    const valid = fc.record({
      rule: fc.string({ minLength: 1 }),
      priority: fc.constantFrom("Emergency", "alert", "CRITICAL", "Error", "warning", "Notice", "info", "Informational", "debug"),
      output: fc.string(),
      output_fields: fc.dictionary(fc.string(), fc.jsonValue()),
      tags: fc.array(fc.string()),
      hostname: fc.string(),
    });
    const mutated = fc.tuple(valid, fc.constantFrom("rule", "priority", "time", "output", "output_fields", "tags", "source", "hostname", "uuid"), fc.jsonValue()).map(([a, k, v]) => ({ ...a, [k]: v }));
    const body = fc.oneof(
      valid.map((v) => JSON.stringify(v)),
      mutated.map((v) => JSON.stringify(v)),
      fc.array(fc.oneof(valid, mutated), { maxLength: 5 }).map((v) => JSON.stringify(v)),
      fc.array(mutated, { minLength: 2, maxLength: 4 }).map((v) => v.map((x) => JSON.stringify(x)).join("\n")),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.tuple(valid, fc.nat(), fc.string({ maxLength: 3 })).map(([v, at, junk]) => {
        const s = JSON.stringify(v);
        const i = at % (s.length + 1);
        return s.slice(0, i) + junk + s.slice(i);
      }),
    );
    const contentType = fc.constantFrom("application/json", "application/x-ndjson", "application/json; charset=utf-8", "text/plain", "");
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, ct) => {
        const res = await app.inject({ method: "POST", url: "/", payload, headers: ct ? { "content-type": ct } : {} });
        expect(res.statusCode).toBeLessThan(500);
        const json = res.json();
        if (res.statusCode === 200) expect(json.uuid ?? json.uuids).toBeDefined();
        else expect(typeof json.error.code).toBe("string");
      }),
      { numRuns: 10_000 },
    );
  }, 300_000);
});

describe("ingest at the journal's quota", () => {
  it("answers 503 with Retry-After, sets the metric, and logs the full state once, not per request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-quota-"));
    const file = join(dir, "peregrine.yaml");
    // Port 1 on loopback refuses connections: every alert stays journaled for its output.
    writeFileSync(
      file,
      `storage: { path: ${dir}/data, fsync: false, max_bytes: 1MiB }\ningest: { max_body_bytes: 512KiB }\n` +
        `outputs: [{ name: down, type: webhook, url: "http://127.0.0.1:1/", retry: { initial_ms: 60s } }]\n`,
    );
    const { config, issues } = loadConfig(file, {});
    if (!config) throw new Error(JSON.stringify(issues));
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const router = new Router(config, logger);
    router.start();
    const app = buildServer(router);
    try {
      const batch = JSON.stringify(Array.from({ length: 50 }, () => ({ ...good, output: "x".repeat(4000) })));
      const post = () => app.inject({ method: "POST", url: "/", payload: batch, headers: { "content-type": "application/json" } });
      let res = await post();
      for (let i = 0; i < 60 && res.statusCode === 200; i++) res = await post();
      expect(res.statusCode).toBe(503);
      for (let i = 0; i < 5; i++) {
        res = await post();
        expect(res.statusCode).toBe(503);
        expect(res.headers["retry-after"]).toBeDefined();
        expect(res.json().error.code).toBe("INGEST_STORAGE_FULL");
      }
      expect((await app.inject({ url: "/metrics" })).body).toMatch(/^peregrine_journal_full 1$/m);
      const full = lines.filter((l) => l.msg.includes("storage.max_bytes"));
      expect(full).toHaveLength(1);
      expect(full[0]!.level).toBe(40);
    } finally {
      await router.stop(0);
    }
  });
});

describe("ingest auth", () => {
  it("needs a bearer token on / and /api when tokens are set, never on /healthz, /ping, /metrics", async () => {
    const { app, router } = await setup(["t0ken-a", "t0ken-b"]);
    const body = JSON.stringify(good);
    const headers = { "content-type": "application/json" };
    const none = await app.inject({ method: "POST", url: "/", payload: body, headers });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe("INGEST_UNAUTHORIZED");
    const wrong = await app.inject({ method: "POST", url: "/", payload: body, headers: { ...headers, authorization: "Bearer nope" } });
    expect(wrong.statusCode).toBe(401);
    const right = await app.inject({ method: "POST", url: "/", payload: body, headers: { ...headers, authorization: "Bearer t0ken-b" } });
    expect(right.statusCode).toBe(200);
    expect((await app.inject({ url: "/api/outputs" })).statusCode).toBe(401);
    expect((await app.inject({ url: "/api/outputs?token=t0ken-a" })).statusCode).toBe(200);
    for (const open of ["/healthz", "/ping", "/metrics"]) expect((await app.inject({ url: open })).statusCode).toBe(200);
    await router.stop(0);
  });
});

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
async function setup(tokens: string[] = [], queryToken = false, dir = mkdtempSync(join(tmpdir(), "peregrine-ingest-"))): Promise<{ app: FastifyInstance; router: Router }> {
  const file = join(dir, "peregrine.yaml");
  writeFileSync(
    file,
    `storage: { path: ${dir}/data, fsync: false }\ningest: { max_body_bytes: 64KiB, auth: { tokens: ${JSON.stringify(tokens)}, query_token: ${queryToken} } }\noutputs: []\n`,
  );
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
    const html = await post("<p>hi</p>", "text/html");
    expect(html.statusCode).toBe(415);
    expect(html.json().error.code).toBe("INGEST_UNSUPPORTED_MEDIA_TYPE");
    const get = await app.inject({ method: "GET", url: "/" });
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe("POST");
    expect((await app.inject({ method: "GET", url: "/nope" })).statusCode).toBe(404);
  });

  it("takes a body without Content-Type as JSON, and curl -d's form type too (Falcosidekick's examples)", async () => {
    const none = await app.inject({ method: "POST", url: "/", payload: JSON.stringify(good) });
    expect(none.statusCode).toBe(200);
    expect(none.json().uuid).toBeDefined();
    const curl = await post(JSON.stringify(good), "application/x-www-form-urlencoded");
    expect(curl.statusCode).toBe(200);
    // Not JSON after all: 400 naming JSON, not a 415 about the type.
    const form = await post("a=b", "application/x-www-form-urlencoded");
    expect(form.statusCode).toBe(400);
    expect(form.json().error.code).toBe("INGEST_INVALID_JSON");
  });

  it("refuses an alert nested deeper than ingest.max_depth with 400 INGEST_TOO_DEEP, before the journal", async () => {
    const before = router.recentAlerts().length;
    const nest = (levels: number) => "[".repeat(levels) + "1" + "]".repeat(levels);
    // 20,000 levels: 40 KB of valid JSON that JSON.parse takes and JSON.stringify cannot.
    const deep = await post(`{"rule":"r","priority":"Notice","output":"o","output_fields":{"x":${nest(20_000)}}}`);
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.code).toBe("INGEST_TOO_DEEP");
    expect(deep.json().error.message).toContain("ingest.max_depth");
    expect(deep.json().error.message).toContain("64");
    // The alert object is level 1, output_fields level 2: 62 more levels make 64, the limit.
    const atLimit = await post(`{"rule":"r","priority":"Notice","output":"o","output_fields":{"x":${nest(62)}}}`);
    expect(atLimit.statusCode).toBe(200);
    const over = await post(`{"rule":"r","priority":"Notice","output":"o","output_fields":{"x":${nest(63)}}}`);
    expect(over.json().error?.code).toBe("INGEST_TOO_DEEP");
    // The array holding a batch is no level of its alerts; brackets inside strings count for nothing.
    const batch = await post(`[{"rule":"r","priority":"Notice","output":"${"[{".repeat(100)}","output_fields":{"x":${nest(62)}}}]`);
    expect(batch.statusCode).toBe(200);
    const ndjson = await post(`${JSON.stringify(good)}\n{"rule":"r","priority":"Notice","output":"o","output_fields":{"x":${nest(63)}}}`, "application/x-ndjson");
    expect(ndjson.json().error?.code).toBe("INGEST_TOO_DEEP");
    expect(router.recentAlerts().length).toBe(before + 2);
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
    expect((await app.inject({ url: "/api/outputs", headers: { authorization: "Bearer t0ken-a" } })).statusCode).toBe(200);
    // A token in the URL lands in proxies' logs: refused unless ingest.auth.query_token is set.
    const query = await app.inject({ url: "/api/outputs?token=t0ken-a" });
    expect(query.statusCode).toBe(401);
    expect(query.json().error.message).toContain("ingest.auth.query_token");
    expect((await app.inject({ method: "POST", url: "/?token=t0ken-a", payload: body, headers })).statusCode).toBe(401);
    for (const open of ["/healthz", "/ping", "/metrics"]) expect((await app.inject({ url: open })).statusCode).toBe(200);
    await router.stop(0);
  });

  it("takes ?token= only when ingest.auth.query_token is true", async () => {
    const { app, router } = await setup(["t0ken-a"], true);
    expect((await app.inject({ url: "/api/outputs?token=t0ken-a" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/api/outputs?token=wrong" })).statusCode).toBe(401);
    await router.stop(0);
  });
});

describe("metric labels an alert controls", () => {
  it("names at most 100 sources in /metrics and counts the rest as other", async () => {
    const { app, router } = await setup();
    for (let i = 0; i < 300; i++) {
      const res = await app.inject({ method: "POST", url: "/", payload: JSON.stringify({ ...good, source: `src-${i}` }), headers: { "content-type": "application/json" } });
      expect(res.statusCode).toBe(200);
    }
    const metrics = (await app.inject({ url: "/metrics" })).body;
    const sources = new Set([...metrics.matchAll(/^peregrine_alerts_received_total\{[^}]*source="([^"]*)"/gm)].map((m) => m[1]));
    expect(sources.size).toBe(101);
    expect(sources.has("other")).toBe(true);
    expect(sources.has("src-0")).toBe(true);
    expect(sources.has("src-299")).toBe(false);
    expect(metrics).toMatch(/^peregrine_alerts_received_total\{priority="Notice",source="other"\} 200$/m);
    await router.stop(0);
  });
});

describe("idempotent ingest on uuid", () => {
  it("answers a retry with the same 200 and uuid, journals it once, counts it, and remembers it across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-dedup-"));
    let { app, router } = await setup([], false, dir);
    const headers = { "content-type": "application/json" };
    const uuid = "0b7c1c9e-3f7d-4c1e-9a55-2f1d3e4c5b6a";
    const first = await app.inject({ method: "POST", url: "/", payload: JSON.stringify({ ...good, uuid }), headers });
    const again = await app.inject({ method: "POST", url: "/", payload: JSON.stringify({ ...good, uuid }), headers });
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(router.recentAlerts().filter((a) => a.uuid === uuid)).toHaveLength(1);
    // A batch repeating it, and a uuid twice within one batch: each journaled once.
    const other = "1b7c1c9e-3f7d-4c1e-9a55-2f1d3e4c5b6a";
    const batch = await app.inject({ method: "POST", url: "/", payload: JSON.stringify([{ ...good, uuid }, { ...good, uuid: other }, { ...good, uuid: other }]), headers });
    expect(batch.json()).toEqual({ accepted: 3, uuids: [uuid, other, other] });
    expect(router.recentAlerts().filter((a) => a.uuid === other)).toHaveLength(1);
    // Alerts without a uuid of their own are never taken for retries.
    await app.inject({ method: "POST", url: "/", payload: JSON.stringify(good), headers });
    await app.inject({ method: "POST", url: "/", payload: JSON.stringify(good), headers });
    expect((await app.inject({ url: "/metrics" })).body).toMatch(/^peregrine_ingest_duplicates_total 3$/m);
    await app.close();
    await router.stop(0);
    ({ app, router } = await setup([], false, dir));
    const afterRestart = await app.inject({ method: "POST", url: "/", payload: JSON.stringify({ ...good, uuid }), headers });
    expect(afterRestart.json()).toEqual({ uuid });
    expect(router.recentAlerts()).toHaveLength(0);
    expect((await app.inject({ url: "/metrics" })).body).toMatch(/^peregrine_ingest_duplicates_total 1$/m);
    await app.close();
    await router.stop(0);
  });

  it("journals concurrent requests with one uuid once", async () => {
    const { app, router } = await setup();
    const uuid = "2b7c1c9e-3f7d-4c1e-9a55-2f1d3e4c5b6a";
    const results = await Promise.all(
      Array.from({ length: 8 }, () => app.inject({ method: "POST", url: "/", payload: JSON.stringify({ ...good, uuid }), headers: { "content-type": "application/json" } })),
    );
    for (const r of results) expect(r.json()).toEqual({ uuid });
    expect(router.recentAlerts().filter((a) => a.uuid === uuid)).toHaveLength(1);
    await app.close();
    await router.stop(0);
  });
});

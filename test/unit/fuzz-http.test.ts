/**
 * Fuzzes the HTTP API beyond alert bodies (test/unit/ingest.test.ts fuzzes those): every route
 * with random methods, query strings (repeated keys become arrays), headers and bodies,
 * against a real router with a journal on disk and the dashboard routes. Nothing may answer
 * 5xx, and every refusal is a JSON error with a stable code and a message.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import pino from "pino";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { ERROR_CODES } from "../../src/errors.js";
import { buildServer } from "../../src/ingest/server.js";
import { Router } from "../../src/router.js";
import { Dashboard } from "../../src/ui/index.js";

const dir = mkdtempSync(join(tmpdir(), "peregrine-fuzz-http-"));
let app: FastifyInstance;
let router: Router;
let authApp: FastifyInstance;
let authRouter: Router;

/** A real router (journal on disk, a file output) with the dashboard routes, behind fastify's injection. */
async function setup(name: string, tokens: string[]): Promise<{ app: FastifyInstance; router: Router }> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `storage: { path: ${JSON.stringify(join(dir, name))}, fsync: false }\ningest: { max_body_bytes: 16KiB, auth: { tokens: ${JSON.stringify(tokens)} } }\noutputs:\n  - { name: archive, type: file, path: ${JSON.stringify(join(dir, `${name}.ndjson`))} }\n`,
  );
  const { config, issues } = loadConfig(file, {});
  if (!config) throw new Error(JSON.stringify(issues));
  const r = new Router(config, pino({ level: "silent" }));
  r.start();
  const a = buildServer(r);
  new Dashboard(r, { withDetector: false }).register(a);
  await a.ready();
  return { app: a, router: r };
}

beforeAll(async () => {
  ({ app, router } = await setup("open", []));
  ({ app: authApp, router: authRouter } = await setup("auth", ["s3cret"]));
});

afterAll(async () => {
  for (const [a, r] of [[app, router], [authApp, authRouter]] as const) {
    await a.close();
    await r.stop(0);
  }
  rmSync(dir, { recursive: true, force: true });
});

const PATHS = ["/", "/test", "/ping", "/healthz", "/metrics", "/ui", "/ui/", "/api/outputs", "/api/alerts", "/api/dead-letters", "/api/dead-letters/replay", "/api/stats", "/api/status", "/nosuch", "/api", "//", "/%", "/%ZZ", "/api/dead-letters/", "/..%2f", "/?"];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] as const;
const QUERY_KEYS = ["limit", "output", "top", "token", "ids", "x", "__proto__", "constructor"];
const QUERY_VALUES = ["", "1", "-1", "0", "abc", "1e309", "99999999999999999999", "NaN", "archive", "nosuch", "%", "%00", "[]", "{}", "null"];

const query = fc.oneof(
  fc.constantFrom("?output=archive&output=x", "?limit=1&limit=2", "?top=5&top=x", "?token=a&token=b"),
  fc
    .array(fc.tuple(fc.constantFrom(...QUERY_KEYS), fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string({ maxLength: 5 }).map(encodeURIComponent))), { maxLength: 4 })
    .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`)),
);

const body = fc.oneof(
  fc.constantFrom("", "null", "true", "0", "[]", "{}", '"x"', "[1]", "{", '{"output": null}', '{"output": 5}', '{"output": "archive"}', '{"output": "nosuch"}', '{"ids": null}', '{"ids": "1"}', '{"ids": [1.5]}', '{"ids": [1e300]}', '{"ids": [-1, 0, 9007199254740993]}', '{"ids": [[1]]}', '{"__proto__": {"output": "x"}}', '{"output": "archive", "ids": []}'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.record({ output: fc.jsonValue({ maxDepth: 1 }), ids: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 20 }),
);

const headers = fc.record(
  {
    "content-type": fc.constantFrom("application/json", "application/x-ndjson", "application/json; charset=utf-8", "text/plain", "application/json; charset=latin1", "multipart/form-data", "", "application/jsonx"),
    authorization: fc.constantFrom("Bearer x", "Bearer", "Basic abc", ""),
    accept: fc.constantFrom("application/json", "text/event-stream", "*/*"),
    "content-encoding": fc.constantFrom("gzip", "identity", "br"),
  },
  { requiredKeys: [] },
);

describe("the HTTP API under fuzzing", () => {
  it("random methods, routes, query strings, headers and bodies: never a 5xx; refusals are JSON errors with a code", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), fc.constantFrom(...PATHS), query, headers, body, async (method, path, qs, hdrs, payload) => {
        // /api/stream holds the connection open (server-sent events): not a request/response route
        const withBody = method !== "GET" && method !== "HEAD";
        const res = await app.inject({ method, url: `${path}${qs}`, headers: hdrs, ...(withBody ? { payload } : {}) });
        const what = `${method} ${path}${qs} ${JSON.stringify(hdrs)} ${withBody ? payload : ""} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
        if (res.statusCode >= 500) throw new Error(`5xx: ${what}`);
        if (res.statusCode >= 400 && method !== "HEAD") {
          let json: { error?: { code?: string; message?: string } };
          try {
            json = res.json();
          } catch {
            throw new Error(`a refusal that is not JSON: ${what}`);
          }
          if (!json.error?.code || !(json.error.code in ERROR_CODES)) throw new Error(`a refusal without a known code: ${what}`);
          if (!json.error.message) throw new Error(`a refusal without a message: ${what}`);
        }
      }),
      { numRuns: 4000 },
    );
  }, 120_000);

  it("with ingest auth on: random requests never 5xx; without the token every guarded route answers a JSON 401", async () => {
    // The dashboard's page holds no data and is served without a token (it reads one from its URL fragment).
    const OPEN = new Set(["/healthz", "/ping", "/metrics", "/ui", "/ui/"]);
    const auth = fc.constantFrom<Record<string, string>>({}, { authorization: "Bearer s3cret" }, { authorization: "Bearer wrong" }, { authorization: "bearer s3cret" }, { authorization: "Bearer  s3cret " }, { authorization: "Basic czNjcmV0" });
    const tokenQuery = fc.constantFrom("", "?token=s3cret", "?token=wrong", "?token=s3cret&token=s3cret", "?token=", "?token[]=s3cret");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS), fc.constantFrom(...PATHS.filter((p) => !p.includes("?"))), tokenQuery, auth, body, async (method, path, qs, hdrs, payload) => {
        const withBody = method !== "GET" && method !== "HEAD";
        const res = await authApp.inject({ method, url: `${path}${qs}`, headers: { "content-type": "application/json", ...hdrs }, ...(withBody ? { payload } : {}) });
        const what = `${method} ${path}${qs} ${JSON.stringify(hdrs)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (res.statusCode >= 500) throw new Error(`5xx: ${what}`);
        const hasToken = hdrs.authorization?.startsWith("Bearer ") && hdrs.authorization.slice(7).trim() === "s3cret";
        // A token in the query is refused (ingest.auth.query_token is off): only the header counts.
        if (!hasToken && !OPEN.has(path) && res.statusCode !== 400) {
          if (res.statusCode !== 401) throw new Error(`no 401 without a token: ${what}`);
          if (method !== "HEAD") expect(res.json().error.code).toBe("INGEST_UNAUTHORIZED");
        }
      }),
      { numRuns: 1500 },
    );
  }, 120_000);

  it("raw garbage on a real socket: the server answers or closes, stays up, and then accepts an alert", async () => {
    const server = await setup("socket", []);
    const address = await server.app.listen({ host: "127.0.0.1", port: 0 });
    const port = Number(new URL(address).port);
    const request = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1")),
      fc.tuple(fc.constantFrom("POST / HTTP/1.1", "GET /ping HTTP/1.1", "POST /api/dead-letters/replay HTTP/1.1", "PUT / HTTP/1.0", "POST / HTTP/9.9", "POST /\u0000 HTTP/1.1"), fc.array(fc.constantFrom("Host: x", "Content-Type: application/json", "Content-Length: 5", "Content-Length: -1", "Content-Length: 99999999999", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", "Content-Length: 3\r\nContent-Length: 4", "X: \u0001", ": empty"), { maxLength: 4 }), fc.constantFrom("", "{}", "zz\r\n", "5\r\n{\"a\":\r\n0\r\n\r\n", "[]")).map(([line, hs, b]) => `${line}\r\n${hs.join("\r\n")}\r\n\r\n${b}`),
    );
    const send = (raw: string) =>
      new Promise<string>((done) => {
        const socket = connect(port, "127.0.0.1");
        let got = "";
        socket.setTimeout(500, () => socket.destroy());
        socket.on("data", (d) => (got += d.toString("latin1")));
        socket.on("error", () => undefined);
        socket.on("close", () => done(got));
        socket.end(raw, "latin1");
      });
    try {
      await fc.assert(
        fc.asyncProperty(request, async (raw) => {
          const answer = await send(raw);
          if (/^HTTP\/1\.[01] 5\d\d/.test(answer)) throw new Error(`5xx for ${JSON.stringify(raw)}: ${answer.slice(0, 300)}`);
        }),
        { numRuns: 300 },
      );
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rule: "r", priority: "Warning", output: "o" }) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { uuid: string }).uuid).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await server.app.close();
      await server.router.stop(0);
    }
  }, 120_000);

  it("replay refusals name the field", async () => {
    const replay = (payload: string) => app.inject({ method: "POST", url: "/api/dead-letters/replay", headers: { "content-type": "application/json" }, payload });
    expect((await replay('{"output": "nosuch"}')).json().error).toMatchObject({ code: "DELIVERY_UNKNOWN_OUTPUT", field: "output" });
    expect((await replay('{"ids": ["a"]}')).json().error).toMatchObject({ code: "INGEST_INVALID_FIELD", field: "ids" });
    expect((await replay("null")).statusCode).toBe(400);
    expect((await replay('{"output": "archive"}')).json()).toEqual({ replayed: 0 });
  });

  it("a repeated query key (an array) is refused or ignored, never a crash", async () => {
    for (const url of ["/api/dead-letters?output=a&output=b", "/api/alerts?limit=1&limit=2", "/api/stats?top=1&top=2", "/api/dead-letters?limit=1&limit=x&output=archive"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(500);
    }
    const twice = await app.inject({ method: "GET", url: "/api/dead-letters?output=a&output=b" });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().error).toMatchObject({ code: "INGEST_INVALID_FIELD", field: "output" });
  });
});

// The Redis output through the real router against the harness's Debian redis-server: the
// conformance suite on a list (Falcosidekick's RPUSH), then streams, hashes, templated keys,
// TLS with an ACL user, and a wrong password that keeps alerts in the journal.
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { makeAlerts, runId } from "../harness/alerts.js";
import { REDIS } from "../harness/endpoints.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { defineConformance, outputStatus, postAll } from "./conformance.js";

const keyOf = (run: string) => `peregrine:conformance:${run}`;

let reader: Redis | undefined;
/** A client for reading back; it reconnects by itself after the suite restarts the server. */
function db(): Redis {
  if (!reader) {
    reader = new Redis({ host: "127.0.0.1", port: REDIS.port, maxRetriesPerRequest: 3, retryStrategy: () => 200 });
    // The suite stops the server on purpose; reads made meanwhile fail and are retried by waitUntil.
    reader.on("error", () => undefined);
  }
  return reader;
}
afterAll(async () => {
  await reader?.quit().catch(() => undefined);
});

async function listAlerts(key: string): Promise<Alert[]> {
  return (await db().lrange(key, 0, -1)).map((v) => JSON.parse(v) as Alert);
}

defineConformance({
  type: "redis",
  volume: 10_000,
  exclusive: () => services.useExclusively("redis"),
  config: (run) => ({ address: REDIS.address, key: keyOf(run) }),
  count: (run) => db().llen(keyOf(run)),
  uuids: async (run) => (await listAlerts(keyOf(run))).map((a) => a.uuid),
  stopService: async () => {
    await services.stop("redis");
  },
  startService: () => services.start("redis"),
  // The harness's server writes its append-only file with fsync before it answers: killing
  // it loses nothing it acknowledged.
  crashService: () => services.kill("redis"),
  faults: [
    {
      name: "the server stopped",
      inject: async () => {
        await services.stop("redis");
      },
      heal: () => services.start("redis"),
    },
  ],
  permanent: {
    // The key already holds a string: every RPUSH to it is WRONGTYPE, for good.
    before: async (run) => {
      await db().set(keyOf(run), "not a list");
    },
    reason: /WRONGTYPE/,
  },
  async checkDelivered(run, alerts) {
    const stored = await listAlerts(keyOf(run));
    const byUuid = new Map(stored.map((a) => [a.uuid, a]));
    for (const a of alerts) {
      const got = byUuid.get(a.uuid)!;
      expect({ rule: got.rule, priority: got.priority, output: got.output, hostname: got.hostname }).toEqual({
        rule: a.rule,
        priority: a.priority,
        output: a.output,
        hostname: a.hostname,
      });
    }
  },
});

describe("redis through the router: streams, hashes, keys, TLS and AUTH", () => {
  const routers: RouterProcess[] = [];
  let release: () => void = () => {};
  beforeAll(async () => {
    release = await services.useExclusively("redis");
    await services.start("redis");
  });
  afterAll(() => release());
  afterEach(async () => {
    while (routers.length) await routers.pop()!.kill().catch(() => undefined);
  });

  async function router(output: Record<string, unknown>): Promise<RouterProcess> {
    const r = await startRouter({ config: { outputs: [{ name: "out", type: "redis", retry: { initial_ms: 100, max_ms: 1000 }, ...output }] } });
    routers.push(r);
    return r;
  }

  it("stream: one XADD entry per alert with its identity fields, to the key its priority renders", async () => {
    const run = runId();
    await router({ address: REDIS.address, mode: "stream", key: `peregrine:stream:${run}:{{priority}}`, stream_maxlen: 100_000 });
    const alerts = makeAlerts(600);
    const priorities = [...new Set(alerts.map((a) => a.priority))];
    expect(priorities.length).toBeGreaterThan(1);
    const keyFor = (p: string) => `peregrine:stream:${run}:${p}`;
    const r = routers[0]!;
    await postAll(r, alerts);
    const total = async () => (await Promise.all(priorities.map((p) => db().xlen(keyFor(p))))).reduce((a, b) => a + b, 0);
    await waitUntil(async () => (await total()) >= alerts.length, 60_000, "600 stream entries");
    for (const p of priorities) {
      const entries = await db().xrange(keyFor(p), "-", "+");
      const expected = alerts.filter((a) => a.priority === p);
      expect(entries.length).toBe(expected.length);
      const got = new Map(
        entries.map(([, fields]) => {
          const f: Record<string, string> = {};
          for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
          return [f.uuid, f];
        }),
      );
      for (const a of expected) {
        const f = got.get(a.uuid)!;
        expect(f).toMatchObject({ priority: a.priority, rule: a.rule, source: a.source, hostname: a.hostname, uuid: a.uuid });
        expect((JSON.parse(f.alert!) as Alert).output).toBe(a.output);
      }
    }
    expect(await total()).toBe(alerts.length);
  });

  it("hashmap (Falcosidekick's): each alert under its uuid", async () => {
    const run = runId();
    const key = `peregrine:hash:${run}`;
    const r = await router({ address: REDIS.address, mode: "hashmap", key });
    const alerts = makeAlerts(400);
    await postAll(r, alerts);
    await waitUntil(async () => (await db().hlen(key)) >= alerts.length, 60_000, "400 hash fields");
    expect(await db().hlen(key)).toBe(alerts.length);
    const one = alerts[123]!;
    expect((JSON.parse((await db().hget(key, one.uuid))!) as Alert).rule).toBe(one.rule);
  });

  it("delivers over TLS as an ACL user in another database", async () => {
    const run = runId();
    const key = `peregrine:tls:${run}`;
    const r = await router({
      address: REDIS.tlsAddress,
      tls: { ca_file: REDIS.certs.caCert },
      username: REDIS.username,
      password: REDIS.password,
      database: 3,
      key,
    });
    const alerts = makeAlerts(500);
    await postAll(r, alerts);
    const db3 = new Redis({ host: "127.0.0.1", port: REDIS.port, db: 3 });
    try {
      await waitUntil(async () => (await db3.llen(key)) >= alerts.length, 60_000, "500 alerts in database 3");
      const stored = (await db3.lrange(key, 0, -1)).map((v) => (JSON.parse(v) as Alert).uuid);
      expect(new Set(stored)).toEqual(new Set(alerts.map((a) => a.uuid)));
      expect(stored.length).toBe(alerts.length);
      expect(await db().exists(key)).toBe(0);
    } finally {
      await db3.quit();
    }
  });

  it("a wrong password: a clear healthcheck error, alerts wait in the journal, never logged; then arrive with the right one", async () => {
    const run = runId();
    const key = `peregrine:auth:${run}`;
    const wrong = `wrong-${run}-password`;
    const secured = (password: string) => ({ address: REDIS.tlsAddress, tls: { ca_file: REDIS.certs.caCert }, username: REDIS.username, password, key });
    const r = await router(secured(wrong));
    const alerts = makeAlerts(100);
    await postAll(r, alerts);
    await waitUntil(() => r.stdout.concat(r.stderr).some((l) => l.includes("healthcheck failed")), 60_000, "the healthcheck line");
    const line = r.stdout.concat(r.stderr).find((l) => l.includes("healthcheck failed"))!;
    expect(line).toMatch(/Redis authentication failed for user \\?"peregrine\\?" at 127\.0\.0\.1:6380/);
    expect(line).toMatch(/WRONGPASS/);
    await waitUntil(async () => (await outputStatus(r)).failed_attempts >= 2, 60_000, "failed attempts");
    expect(await outputStatus(r)).toMatchObject({ queue_depth: 100, delivered: 0, dead_lettered: 0 });
    expect(await db().llen(key)).toBe(0);

    await r.stop("SIGTERM");
    expect(r.stdout.concat(r.stderr).filter((l) => l.includes(wrong))).toEqual([]);
    const fixed = await startRouter({
      config: { outputs: [{ name: "out", type: "redis", retry: { initial_ms: 100, max_ms: 1000 }, ...secured(REDIS.password) }] },
      dataDir: r.dataDir,
    });
    routers.push(fixed);
    await waitUntil(async () => (await db().llen(key)) >= alerts.length, 60_000, "100 alerts after the fix");
    expect(new Set((await listAlerts(key)).map((a) => a.uuid))).toEqual(new Set(alerts.map((a) => a.uuid)));
  });
});

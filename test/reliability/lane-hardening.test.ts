/**
 * Lane and output hardening against hostile receivers: a Retry-After past the timer range,
 * retry.max_age judged while waiting, a 429 episode that must not open the circuit, an
 * output refusing everything shown as such, a receiver answering 500 with a 400 MiB body,
 * and URL userinfo sent as Basic auth without the password reaching a log.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { makeAlert, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { MiB, rssBytes, sampler, startRouterIn, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

interface OutputStatus {
  name: string;
  state: string;
  delivered: number;
  dead_lettered: number;
  failed_attempts: number;
  last_error?: { reason: string };
}

async function hook(router: RouterProcess): Promise<OutputStatus> {
  const res = await router.get("/api/outputs");
  return (res.json as { outputs: OutputStatus[] }).outputs.find((o) => o.name === "hook")!;
}

async function post(router: RouterProcess, alerts: Record<string, unknown>[]): Promise<void> {
  const res = await router.post(alerts);
  expect(res.status).toBe(200);
}

function logs(router: RouterProcess): string {
  return [...router.stdout, ...router.stderr].join("\n");
}

describe("reliability: lanes against hostile receivers", () => {
  it("a Retry-After of 34 days neither overflows the timer nor outlives retry.max_age: dead-lettered after one send", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // 3,000,000 s: past the 2^31-1 ms (24.8 days) a Node timer holds.
    receiver.behavior = () => ({ status: 429, headers: { "retry-after": "3000000" } });
    const router = await startRouterIn(cleanups, {
      config: { outputs: [webhookOutput(receiver.url, { retry: { initial_ms: 50, max_ms: 500, max_age: 3000 } })] },
    });
    await post(router, [makeAlert(0)]);
    await waitUntil(async () => (await hook(router)).dead_lettered === 1, 60_000, "the alert dead-lettered at max_age");
    const status = await hook(router);
    expect(status.delivered).toBe(0);
    // One send; the wait ran at max_age, not in a 1 ms loop.
    expect(receiver.requests.length).toBe(1);
    expect(logs(router)).not.toContain("TimeoutOverflowWarning");
    const dlq = (await router.get("/api/dead-letters")).json as { dead_letters?: { reason: string }[] };
    expect(JSON.stringify(dlq)).toContain("max_age");
  }, 120_000);

  it("a 429 episode does not open the circuit: the backlog drains once it ends, each alert sent until accepted", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    const EPISODE = 12;
    const delivered = new Set<string>();
    receiver.behavior = (req, i) => {
      if (i < EPISODE) return { status: 429 };
      for (const a of JSON.parse(req.body) as { uuid: string }[]) delivered.add(a.uuid);
      return { status: 200 };
    };
    // A circuit opened by the episode would stay open ten minutes, far past the deadline below.
    const router = await startRouterIn(cleanups, {
      config: {
        outputs: [
          webhookOutput(receiver.url, {
            batch: { max_events: 10, max_wait_ms: 0 },
            retry: { initial_ms: 20, max_ms: 100 },
            circuit: { failure_threshold: 3, open_ms: 600_000 },
            // No send may time out on a loaded machine: every failed attempt must be a 429.
            timeout_ms: 30_000,
          }),
        ],
      },
    });
    const alerts = Array.from({ length: 50 }, (_, i) => makeAlert(i));
    for (let i = 0; i < alerts.length; i += 10) await post(router, alerts.slice(i, i + 10));
    await waitUntil(() => delivered.size === 50, 60_000, "all 50 alerts after the 429 episode");
    const status = await hook(router);
    expect(status.failed_attempts).toBe(EPISODE);
    expect(status.state).toBe("healthy");
    expect(logs(router)).not.toMatch(/circuit open/);
    const metrics = (await router.get("/metrics")).json as string;
    expect(metrics).toMatch(/peregrine_output_circuit_state\{output="hook",type="webhook"\} 0/);
  }, 120_000);

  it("an output that refuses every alert shows as rejecting (not healthy) until it takes one again", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    let accept = false;
    receiver.behavior = () => ({ status: accept ? 200 : 400, body: '{"error":"schema"}' });
    const router = await startRouterIn(cleanups, {
      config: { outputs: [webhookOutput(receiver.url, { batch: { max_events: 1, max_wait_ms: 0 } })] },
    });
    for (let i = 0; i < 4; i++) await post(router, [makeAlert(i)]);
    await waitUntil(async () => (await hook(router)).dead_lettered === 4, 60_000, "four refused alerts dead-lettered");
    expect((await hook(router)).state).toBe("rejecting");
    const health = (await router.get("/healthz")).json as { status: string; outputs: OutputStatus[] };
    expect(health.status).toBe("degraded");
    expect(health.outputs[0]!.state).toBe("rejecting");

    accept = true;
    await post(router, [makeAlert(9)]);
    await waitUntil(async () => (await hook(router)).delivered === 1, 60_000, "the alert the output takes again");
    expect((await hook(router)).state).toBe("healthy");
  }, 120_000);

  it("a receiver answering 500 with a 400 MiB body costs a few KiB of it, not the body: RSS stays bounded", async () => {
    const BODY = 400 * MiB;
    const huge = await hugeBodyServer(BODY);
    cleanups.push(() => huge.close());
    const router = await startRouterIn(cleanups, {
      config: { outputs: [webhookOutput(huge.url, { retry: { initial_ms: 50, max_ms: 200, max_attempts: 3 }, timeout_ms: 60_000 })] },
    });
    const pid = router.proc.pid!;
    await post(router, [makeAlert(0)]);
    await new Promise((r) => setTimeout(r, 0));
    const before = rssBytes(pid)!;
    const rss = sampler(() => rssBytes(pid), 100);
    await waitUntil(async () => (await hook(router)).dead_lettered === 1, 120_000, "the alert dead-lettered after 3 attempts");
    rss.stop();
    const peak = Math.max(...rss.samples.map((s) => s.value));
    const status = await hook(router);
    console.log(
      `error body: ${huge.requests()} answers of ${BODY / MiB} MiB, ${(huge.written() / MiB).toFixed(1)} MiB written before the router hung up; RSS ${(before / MiB).toFixed(0)} -> peak ${(peak / MiB).toFixed(0)} MiB`,
    );
    expect(huge.requests()).toBe(3);
    // Whatever the kernel's socket buffers took, far from the body.
    expect(huge.written()).toBeLessThan(3 * 32 * MiB);
    expect(peak - before).toBeLessThan(64 * MiB);
    expect(status.last_error!.reason.length).toBeLessThan(1000);
  }, 180_000);

  it("URL userinfo goes as Basic auth, and the password reaches no log line", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // The first answer fails, so the retry's warning is logged too.
    receiver.behavior = (_r, i) => ({ status: i === 0 ? 503 : 200 });
    const url = `http://alice:s3cr%40tpw@127.0.0.1:${receiver.port}/in`;
    const router = await startRouterIn(cleanups, {
      config: { outputs: [webhookOutput(url, { retry: { initial_ms: 20, max_ms: 100 } })] },
    });
    await post(router, [makeAlert(0)]);
    await waitUntil(async () => (await hook(router)).delivered === 1, 60_000, "the alert delivered");
    const ok = receiver.requests.find((r) => r.status === 200)!;
    expect(ok.url).toBe("/in");
    expect(ok.headers.authorization).toBe(`Basic ${Buffer.from("alice:s3cr@tpw").toString("base64")}`);
    expect(logs(router)).toContain("will retry");
    expect(logs(router)).not.toContain("s3cr");
  }, 120_000);
});

/**
 * Answers every request 500 with `size` bytes, written only as fast as the client reads
 * (back-pressure), so `written()` tells how much of the body the client took.
 */
async function hugeBodyServer(size: number): Promise<{ url: string; written(): number; requests(): number; close(): Promise<void> }> {
  let written = 0;
  let requests = 0;
  const chunk = Buffer.alloc(64 * 1024, "x");
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests++;
      res.writeHead(500, { "content-type": "text/plain", "content-length": String(size) });
      let sent = 0;
      const pump = (): void => {
        while (sent < size && !res.destroyed) {
          const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
          sent += part.length;
          written += part.length;
          if (!res.write(part)) {
            res.once("drain", pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    written: () => written,
    requests: () => requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

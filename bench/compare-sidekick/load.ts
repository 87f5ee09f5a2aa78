/**
 * The load generator: autocannon POSTing one Falco-format alert per request, as Falco's
 * http_output does. Each request carries a fresh id (`output_fields.bench_id`) so the sinks
 * can count every alert once and tell duplicates from first deliveries.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { Client } from "undici";

interface AutocannonHistogram {
  p50: number;
  p99: number;
  average: number;
  max: number;
}

interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  latency: AutocannonHistogram;
  requests: AutocannonHistogram & { total: number };
  statusCodeStats?: Record<string, { count: number }>;
}

interface AutocannonOptions {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
  timeout: number;
  idReplacement: boolean;
}

const autocannon = createRequire(import.meta.url)("autocannon") as (opts: AutocannonOptions) => Promise<AutocannonResult>;

export interface LoadResult {
  /** Requests answered 2xx (each acknowledges all the alerts it carried). */
  accepted: number;
  rejected: number;
  errors: number;
  seconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  statusCodes: Record<string, number>;
}

/** One alert with autocannon's per-request id placeholder in it; `k` tells apart alerts of one request. */
function alert(hostname: string, k?: number): Record<string, unknown> {
  const id = k === undefined ? "[<id>]" : `[<id>]-${k}`;
  return {
    // Now, so log stores with a retention window keep it.
    time: new Date().toISOString(),
    rule: "Read sensitive file untrusted",
    priority: "Warning",
    source: "syscall",
    output: `Sensitive file opened for reading by non-trusted program (file=/etc/shadow id=${id})`,
    output_fields: { bench_id: id, "proc.name": "cat", "fd.name": "/etc/shadow", "user.name": "root", "evt.type": "openat" },
    tags: ["filesystem", "mitre_credential_access", "bench"],
    hostname,
  };
}

/** The request body: one alert, or a JSON array of `perRequest` alerts. */
export function alertTemplate(hostname: string, perRequest = 1): string {
  if (perRequest === 1) return JSON.stringify(alert(hostname));
  return JSON.stringify(Array.from({ length: perRequest }, (_, k) => alert(hostname, k)));
}

export async function runLoad(url: string, options: { seconds: number; connections: number; hostname: string; perRequest?: number }): Promise<LoadResult> {
  const r = await autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: alertTemplate(options.hostname, options.perRequest),
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    idReplacement: true,
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = v.count;
  return {
    accepted: r["2xx"],
    rejected: r.non2xx,
    errors: r.errors + r.timeouts,
    seconds: r.duration,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    statusCodes,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Falco's http_output: one keep-alive connection (one libcurl handle in one output thread),
 * each alert posted once the previous one was answered. Latencies are timed per request to
 * the microsecond (autocannon's histogram keeps whole milliseconds, too coarse here).
 */
export async function runSequential(url: string, options: { seconds: number; hostname: string }): Promise<LoadResult> {
  const client = new Client(new URL(url).origin, { pipelining: 1, keepAliveTimeout: 60_000 });
  const path = new URL(url).pathname;
  // The id appears twice (in the output and in bench_id). Each alert carries its own uuid, as
  // a producer that retries does, so Peregrine's uuid dedup is part of the measured path.
  const template = alertTemplate(options.hostname).replace(/^\{/, '{"uuid":"[<uuid>]",');
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let accepted = 0;
  let rejected = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + options.seconds * 1000;
  let n = 0;
  try {
    while (performance.now() < end) {
      const id = `seq${n++}`;
      const body = template.replaceAll("[<id>]", id).replace("[<uuid>]", randomUUID());
      const t0 = performance.now();
      try {
        const res = await client.request({ path, method: "POST", headers: { "content-type": "application/json" }, body });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        statusCodes[res.statusCode] = (statusCodes[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 300) accepted++;
        else rejected++;
      } catch {
        errors++;
      }
    }
  } finally {
    await client.close();
  }
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { accepted, rejected, errors, seconds, latencyP50Ms: percentile(latencies, 50), latencyP99Ms: percentile(latencies, 99), statusCodes };
}

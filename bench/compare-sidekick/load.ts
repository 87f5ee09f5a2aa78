/**
 * The load generator: autocannon POSTing one Falco-format alert per request, as Falco's
 * http_output does. Each request carries a fresh id (`output_fields.bench_id`) so the sinks
 * can count every alert once and tell duplicates from first deliveries.
 */
import { createRequire } from "node:module";

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

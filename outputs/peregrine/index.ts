import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, tlsShape } from "../../src/delivery/http.js";

/**
 * POSTs alerts to a Peregrine router's ingest as one JSON array per batch: how
 * `peregrine detect --router URL` delivers, and how one router can forward to another.
 * Alerts keep their uuid, so a batch sent again after a lost answer is the same alerts.
 */
export const peregrineOutput = defineOutput({
  type: "peregrine",
  summary: "Sends alerts to a Peregrine router's ingest (POST /) as JSON arrays; what `peregrine detect --router` delivers through.",
  schema: s.object({
    url: s.string().asUrl().describe("The router's base URL, e.g. https://peregrine.monitoring:2801; alerts go to its `/`."),
    token: s.string().notEmpty().optional().describe("Bearer token, when the router sets ingest.auth.tokens."),
    tls: tlsShape.optional(),
  }),
  // A router takes 1 MiB bodies by default: batches stay under it with room for the array.
  laneDefaults: { batch: { max_events: 500, max_bytes: 1000 * 1024, max_wait_ms: 100 } },
  create(config) {
    const dispatcher = createDispatcher(config.tls);
    // https://user:pass@host is Basic auth (a token wins), never part of a logged URL.
    const base = splitUserinfo(config.url);
    const url = new URL("/", base.url).toString();
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (base.authorization !== undefined) headers.authorization = base.authorization;
    if (config.token !== undefined) headers.authorization = `Bearer ${config.token}`;

    async function post(batch: readonly Alert[], signal: AbortSignal): Promise<SendResult & { index?: number }> {
      try {
        const res = await httpSend(url, { method: "POST", headers, body: JSON.stringify(batch), signal, dispatcher });
        if (res.status < 300) return { kind: "ok" };
        const text = res.text;
        const result = classifyHttpStatus(res.status, res.headers, text);
        // The router names the alert it refused a batch for (and took none of it).
        const index = (parseJson(text) as { error?: { index?: unknown } } | undefined)?.error?.index;
        return typeof index === "number" && Number.isInteger(index) && index >= 0 && index < batch.length ? { ...result, index } : result;
      } catch (err) {
        return classifyNetworkError(err);
      }
    }

    /**
     * One refused alert must not take its batch to the dead letters: a batch refused for one
     * alert is sent again without it, and one too large for the router is sent in halves.
     */
    async function send(batch: readonly Alert[], signal: AbortSignal): Promise<SendResult> {
      const result = await post(batch, signal);
      if (result.kind !== "reject" || batch.length < 2) return strip(result);
      if (result.index !== undefined) {
        const i = result.index;
        const rest = await send([...batch.slice(0, i), ...batch.slice(i + 1)], signal);
        return combine([{ index: i, result: strip(result) }], rest, (j) => (j < i ? j : j + 1), batch.length - 1);
      }
      if (result.status !== 413) return strip(result);
      const half = Math.ceil(batch.length / 2);
      const first = await send(batch.slice(0, half), signal);
      const second = await send(batch.slice(half), signal);
      return combine(failures(first, half), second, (j) => j + half, batch.length - half);
    }

    return {
      send,
      async close() {
        await dispatcher.close();
      },
    };
  },
});

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function strip(result: SendResult & { index?: number }): SendResult {
  const { index: _index, ...rest } = result;
  return rest as SendResult;
}

/** The failed alerts of a result over `n` alerts, by index. */
function failures(result: SendResult, n: number): { index: number; result: SendResult }[] {
  if (result.kind === "ok") return [];
  if (result.kind === "partial") return result.failed;
  return Array.from({ length: n }, (_, index) => ({ index, result }));
}

/** `known` failures plus those of `rest` (over `n` alerts), whose indexes `at` maps into the batch. */
function combine(known: { index: number; result: SendResult }[], rest: SendResult, at: (j: number) => number, n: number): SendResult {
  const failed = [...known, ...failures(rest, n).map((f) => ({ index: at(f.index), result: f.result }))];
  return failed.length === 0 ? { kind: "ok" } : { kind: "partial", failed: failed.sort((a, b) => a.index - b.index) };
}

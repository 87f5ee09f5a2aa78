/**
 * Turns a batch of alerts into one Loki push request: alerts grouped into streams by their
 * label set, entries sorted by time inside each stream (Loki rejects entries older than a
 * stream's newest when out-of-order writes are off), then encoded as JSON (gzip) or as
 * protobuf (snappy), Loki's native format.
 */
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import { compress as snappyCompress } from "snappy";
import { alertTextLine, type Alert } from "../../src/alert.js";
import { parseTime } from "../../src/templates/index.js";
import { fieldValue, streamLabels, valueText, type LabelPlan } from "./labels.js";
import { encodePushRequest, type PbStream } from "./protobuf.js";

const gzip = promisify(gzipCb);

export type LokiEncoding = "protobuf" | "json";
export type LineFormat = "text" | "json";

export interface EncodeOptions {
  plan: LabelPlan;
  format: LineFormat;
  /** Fields attached to each entry as structured metadata (Loki 3): [key, field name]. */
  metadata: [string, string][];
}

interface Entry {
  /** Unix nanoseconds, exact (alert times carry up to 9 fraction digits). */
  ns: bigint;
  line: string;
  metadata?: [string, string][];
}

export interface Stream {
  labels: string;
  pairs: [string, string][];
  entries: Entry[];
}

/** Unix nanoseconds of an RFC 3339 time; a time that cannot be read falls back to now. */
export function unixNanos(time: string, now = Date.now()): bigint {
  const t = parseTime(time);
  if (!t) return BigInt(now) * 1_000_000n;
  const seconds = Math.floor(t.epochMs / 1000);
  return BigInt(seconds) * 1_000_000_000n + BigInt(t.nanos);
}

export function lineOf(alert: Alert, format: LineFormat): string {
  if (format === "json") return JSON.stringify(alert);
  return alert.output !== "" ? alert.output : alertTextLine(alert);
}

export function groupStreams(batch: readonly Alert[], options: EncodeOptions): Stream[] {
  const streams = new Map<string, Stream>();
  for (const alert of batch) {
    const set = streamLabels(alert, options.plan);
    let stream = streams.get(set.text);
    if (!stream) {
      stream = { labels: set.text, pairs: set.pairs, entries: [] };
      streams.set(set.text, stream);
    }
    const entry: Entry = { ns: unixNanos(alert.time), line: lineOf(alert, options.format) };
    if (options.metadata.length > 0) {
      const md: [string, string][] = [];
      for (const [key, field] of options.metadata) {
        const v = valueText(fieldValue(alert, field));
        if (v !== "") md.push([key, v]);
      }
      if (md.length > 0) entry.metadata = md;
    }
    stream.entries.push(entry);
  }
  for (const s of streams.values()) {
    // Array.prototype.sort is stable: equal times keep the batch's order.
    s.entries.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  }
  return [...streams.values()];
}

export function jsonBody(streams: readonly Stream[]): string {
  return JSON.stringify({
    streams: streams.map((s) => ({
      stream: Object.fromEntries(s.pairs),
      values: s.entries.map((e) =>
        e.metadata ? [e.ns.toString(), e.line, Object.fromEntries(e.metadata)] : [e.ns.toString(), e.line],
      ),
    })),
  });
}

export function protobufBody(streams: readonly Stream[]): Buffer {
  const pb: PbStream[] = streams.map((s) => ({
    labels: s.labels,
    entries: s.entries.map((e) => {
      const out = {
        seconds: Number(e.ns / 1_000_000_000n),
        nanos: Number(e.ns % 1_000_000_000n),
        line: e.line,
      } as PbStream["entries"][number];
      if (e.metadata) out.metadata = e.metadata;
      return out;
    }),
  }));
  return encodePushRequest(pb);
}

export interface EncodedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export async function encodeRequest(
  batch: readonly Alert[],
  options: EncodeOptions,
  encoding: LokiEncoding,
): Promise<EncodedRequest> {
  const streams = groupStreams(batch, options);
  if (encoding === "json") {
    return {
      body: await gzip(jsonBody(streams), { level: 4 }),
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    };
  }
  return {
    body: await snappyCompress(protobufBody(streams)),
    headers: { "content-type": "application/x-protobuf" },
  };
}

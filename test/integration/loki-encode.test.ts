// The Loki output's request building, without a server: what the store cannot show us
// (the order of entries inside a request, exact timestamps, label escaping).
import { describe, expect, it } from "vitest";
import { groupStreams, jsonBody, unixNanos } from "../../outputs/loki/encode.js";
import { planLabels, sanitizeLabelName, streamLabels, clipBytes } from "../../outputs/loki/labels.js";
import { encodePushRequest } from "../../outputs/loki/protobuf.js";
import { makeAlert } from "../harness/alerts.js";

const options = { plan: planLabels({}, []), format: "text" as const, metadata: [] as [string, string][] };

describe("Loki request building", () => {
  it("sorts entries by time inside each stream, keeping the batch order for equal times", () => {
    const t = (s: string) => `2024-03-05T07:08:${s}Z`;
    const batch = [
      makeAlert(0, { rule: "A", priority: "Critical", time: t("09.000000003"), output: "a3" }),
      makeAlert(1, { rule: "B", priority: "Critical", time: t("01"), output: "b1" }),
      makeAlert(2, { rule: "A", priority: "Critical", time: t("09.000000001"), output: "a1" }),
      makeAlert(3, { rule: "A", priority: "Critical", time: t("09.000000002"), output: "a2-first" }),
      makeAlert(4, { rule: "A", priority: "Critical", time: t("09.000000002"), output: "a2-second" }),
    ];
    const streams = groupStreams(batch, options);
    expect(streams.map((s) => s.entries.map((e) => e.line))).toEqual([["a1", "a2-first", "a2-second", "a3"], ["b1"]]);
  });

  it("keeps nanoseconds exactly, whatever the offset", () => {
    expect(unixNanos("2024-03-05T07:08:09.123456789Z")).toBe(1709622489123456789n);
    expect(unixNanos("2024-03-05T09:08:09.123456789+02:00")).toBe(1709622489123456789n);
    expect(unixNanos("2024-03-05T07:08:09Z")).toBe(1709622489000000000n);
    expect(unixNanos("2024-03-05T07:08:09.5Z")).toBe(1709622489500000000n);
  });

  it("escapes label values and sorts label names", () => {
    const a = makeAlert(0, { rule: 'Say "hi"\\ now\n', hostname: "h" });
    expect(streamLabels(a, planLabels({ zeta: "z", alpha: "a" }, [])).text).toBe(
      `{alpha="a", hostname="h", priority="${a.priority}", rule="Say \\"hi\\"\\\\ now\\n", source="syscall", zeta="z"}`,
    );
  });

  it("sanitizes label names to Loki's rules", () => {
    expect(sanitizeLabelName("k8s.ns.name")).toBe("k8s_ns_name");
    expect(sanitizeLabelName("9lives")).toBe("_9lives");
    expect(sanitizeLabelName("__name__")).toBe("_name__");
    expect(sanitizeLabelName("é")).toBe("_");
  });

  it("clips long values on a character boundary", () => {
    const v = clipBytes("é".repeat(2000), 2049);
    expect(Buffer.byteLength(v)).toBe(2048);
    expect(v).toBe("é".repeat(1024));
  });

  it("writes JSON with string timestamps and structured metadata as the third value", () => {
    const a = makeAlert(0, { time: "2024-03-05T07:08:09.123456789Z" });
    const body = JSON.parse(jsonBody(groupStreams([a], { ...options, metadata: [["uuid", "uuid"]] }))) as {
      streams: { stream: Record<string, string>; values: unknown[][] }[];
    };
    expect(body.streams[0]!.values[0]).toEqual(["1709622489123456789", a.output, { uuid: a.uuid }]);
  });

  it("encodes protobuf field by field (PushRequest > Stream > Entry > Timestamp)", () => {
    const buf = encodePushRequest([{ labels: '{a="b"}', entries: [{ seconds: 1, nanos: 2, line: "x", metadata: [["k", "v"]] }] }]);
    expect([...buf]).toEqual([
      0x0a, 28, // streams (1), length
      0x0a, 7, ...Buffer.from('{a="b"}'), // labels (1)
      0x12, 17, // entries (2)
      0x0a, 4, 0x08, 1, 0x10, 2, // timestamp (1): seconds (1) = 1, nanos (2) = 2
      0x12, 1, 0x78, // line (2) = "x"
      0x1a, 6, 0x0a, 1, 0x6b, 0x12, 1, 0x76, // structuredMetadata (3): name "k", value "v"
    ]);
  });
});

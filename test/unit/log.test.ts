/**
 * Credentials never reach the logs: a config-shaped object logged whole (outputs with TLS,
 * SASL, HMAC, headers, S3 keys) comes out with every secret masked, and nothing else lost.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { loggerOptions } from "../../src/log.js";

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: pino(loggerOptions("info"), sink), lines: () => text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("log redaction", () => {
  it("masks secrets at any of the first four levels, and whole header maps", () => {
    const { logger, lines } = capture();
    logger.info(
      {
        output: {
          name: "hook",
          url: "https://example.test/hook",
          headers: { "x-api-key": "k-123", "x-team": "sec" },
          hmac: { secret: "h-456", header: "x-sig" },
          sasl: { mechanism: "scram-sha-256", username: "u", password: "p-789" },
          bearer_token: "t-000",
        },
        s3: { bucket: "b", access_key_id: "AKIA", secret_access_key: "s-111", session_token: "st-222" },
        slack: { webhook_url: "https://hooks.example.test/T/B/X" },
        deep: { a: { b: { password: "deep-333" } } },
        token: "top-444",
      },
      "config",
    );
    const text = JSON.stringify(lines()[0]);
    for (const secret of ["k-123", "h-456", "p-789", "t-000", "s-111", "st-222", "hooks.example.test", "deep-333", "top-444"])
      expect(text, secret).not.toContain(secret);
    const line = lines()[0] as { output: Record<string, unknown>; s3: Record<string, unknown> };
    expect(line.output.headers).toBe("[redacted]");
    expect(line.output.url).toBe("https://example.test/hook");
    expect(line.output.sasl).toMatchObject({ mechanism: "scram-sha-256", username: "u", password: "[redacted]" });
    expect(line.s3).toMatchObject({ bucket: "b", access_key_id: "AKIA", secret_access_key: "[redacted]" });
  });
});

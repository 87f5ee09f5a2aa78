import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS, parseRetryAfter, readBodyExcerpt, splitUserinfo } from "../../src/delivery/http.js";

describe("parseRetryAfter", () => {
  it("reads seconds and dates, and clamps both to an hour (a timer overflows past 24.8 days)", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("2", now)).toBe(2000);
    expect(parseRetryAfter("1.5", now)).toBe(1500);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("3000000", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("99999999999999999999", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("Wed, 01 Jan 2020 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(MAX_RETRY_AFTER_MS).toBeLessThan(2 ** 31 - 1);
  });
});

describe("splitUserinfo", () => {
  it("turns userinfo into Basic auth and takes it out of the URL", () => {
    expect(splitUserinfo("https://user:pass@example.com/hook?q=1")).toEqual({
      url: "https://example.com/hook?q=1",
      authorization: `Basic ${Buffer.from("user:pass").toString("base64")}`,
    });
    // Percent-escapes are decoded, as curl does; a user alone has an empty password.
    expect(splitUserinfo("http://a%40b:p%3Aw@h:8080/").authorization).toBe(`Basic ${Buffer.from("a@b:p:w").toString("base64")}`);
    expect(splitUserinfo("http://token@h/")).toEqual({ url: "http://h/", authorization: `Basic ${Buffer.from("token:").toString("base64")}` });
    expect(splitUserinfo("http://h/x")).toEqual({ url: "http://h/x" });
  });
});

describe("readBodyExcerpt", () => {
  it("reads at most the limit and stops the stream there", async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(1024, "a"));
      },
    });
    const text = await readBodyExcerpt(body, 4096);
    expect(text).toBe(`${"a".repeat(4096)}…`);
    expect(body.destroyed).toBe(true);
    expect(pulled).toBeLessThan(64);
    expect(await readBodyExcerpt(Readable.from([Buffer.from("short")]))).toBe("short");
  });
});

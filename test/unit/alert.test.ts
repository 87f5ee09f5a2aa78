import { describe, expect, it } from "vitest";
import { meetsMinimum, normalizeAlert, parsePriority } from "../../src/alert.js";
import { parseAlertBody } from "../../src/ingest/parse.js";

describe("normalizeAlert", () => {
  const base = { rule: "Read sensitive file", priority: "Warning", output: "x", time: "2024-05-01T10:00:00.123456789Z" };
  it("keeps nanoseconds, a producer's uuid, and fills defaults", () => {
    const r = normalizeAlert({ ...base, uuid: "0A1B2C3D-0000-4000-8000-000000000001" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.alert.time).toBe(base.time);
    expect(r.alert.uuid).toBe("0a1b2c3d-0000-4000-8000-000000000001");
    expect(r.alert.source).toBe("syscall");
    expect(r.alert.tags).toEqual([]);
    expect(r.alert.output_fields).toEqual({});
  });
  it("generates a uuid when the producer's is not one", () => {
    const r = normalizeAlert({ ...base, uuid: "nope" });
    expect(r.ok && r.alert.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });
  it.each([
    [{ priority: "Warning" }, "rule"],
    [{ ...base, rule: "" }, "rule"],
    [{ ...base, priority: "loud" }, "priority"],
    [{ ...base, priority: 3 }, "priority"],
    [{ rule: "r" }, "priority"],
    [{ ...base, time: "yesterday" }, "time"],
    [{ ...base, time: "2024-13-01T00:00:00Z" }, "time"],
    [{ ...base, time: "2024-02-30T00:00:00Z" }, "time"],
    [{ ...base, time: "2023-02-29T00:00:00Z" }, "time"],
    [{ ...base, time: "2024-04-31T00:00:00Z" }, "time"],
    [{ ...base, output: 5 }, "output"],
    [{ ...base, output_fields: [] }, "output_fields"],
    [{ ...base, tags: "a" }, "tags"],
    [{ ...base, tags: ["a", 1] }, "tags[1]"],
    [{ ...base, source: 1 }, "source"],
    [{ ...base, hostname: {} }, "hostname"],
    [[], ""],
  ])("rejects %j naming %s", (input, field) => {
    const r = normalizeAlert(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.field).toBe(field);
  });
  it("accepts the last day of each month, 29 February in leap years only", () => {
    for (const t of ["2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2024-04-30T23:59:60Z", "2024-12-31T00:00:00Z"])
      expect(normalizeAlert({ ...base, time: t }).ok, t).toBe(true);
    expect(normalizeAlert({ ...base, time: "1900-02-29T00:00:00Z" }).ok).toBe(false);
  });
  it("accepts priorities case-insensitively, and info", () => {
    expect(parsePriority("CRITICAL")).toBe("Critical");
    expect(parsePriority("info")).toBe("Informational");
    expect(parsePriority("informational")).toBe("Informational");
    expect(meetsMinimum("Critical", "Warning")).toBe(true);
    expect(meetsMinimum("Notice", "Warning")).toBe(false);
  });
});

describe("parseAlertBody", () => {
  it("takes one object, an array, or NDJSON", () => {
    expect(parseAlertBody('{"a":1}')).toEqual({ ok: true, values: [{ a: 1 }], single: true });
    expect(parseAlertBody('[{"a":1},{"a":2}]')).toMatchObject({ ok: true, single: false });
    expect(parseAlertBody('{"a":1}\n\n{"a":2}\n')).toEqual({ ok: true, values: [{ a: 1 }, { a: 2 }], single: false });
  });
  it("names the bad NDJSON line", () => {
    expect(parseAlertBody('{"a":1}\n{oops\n{"a":3}')).toMatchObject({ ok: false, code: "INGEST_INVALID_JSON", line: 2 });
  });
  it("refuses empty bodies and empty arrays", () => {
    expect(parseAlertBody("  ")).toMatchObject({ ok: false, code: "INGEST_EMPTY_BODY" });
    expect(parseAlertBody("[]")).toMatchObject({ ok: false, code: "INGEST_EMPTY_BODY" });
  });
});

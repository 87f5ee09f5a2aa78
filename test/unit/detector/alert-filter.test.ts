import { describe, expect, it } from "vitest";
import type { Alert } from "../../../src/alert.js";
import { compileAlertFilter } from "../../../src/detector/alert-filter.js";

const alert: Alert = {
  uuid: "4a0f6d7e-5b7c-4c38-9d7e-2f1b3c4d5e6f",
  time: "2026-01-01T00:00:00.000000001Z",
  priority: "Error",
  rule: "Write below etc",
  output: "File below /etc opened for writing",
  output_fields: { "proc.name": "bash", "user.uid": 0, "fd.name": null },
  custom_fields: { env: "prod", "fd.name": "/etc/x" },
  source: "syscall",
  tags: ["filesystem", "mitre_persistence"],
  hostname: "web-1",
};

function matches(text: string, a: Alert = alert): boolean {
  const f = compileAlertFilter(text);
  if (!f.ok) throw new Error(JSON.stringify(f.errors));
  return f.match(a);
}

describe("compileAlertFilter", () => {
  it("compares priorities by severity", () => {
    expect(matches("alert.priority >= warning")).toBe(true);
    expect(matches("alert.priority >= Error")).toBe(true);
    expect(matches("alert.priority > error")).toBe(false);
    expect(matches("alert.priority >= critical")).toBe(false);
    expect(matches("alert.priority < notice")).toBe(false);
    expect(matches("alert.priority = ERROR")).toBe(true);
    expect(matches("alert.priority in (error, critical)")).toBe(true);
    expect(matches("alert.priority >= info", { ...alert, priority: "Debug" })).toBe(false);
  });
  it("reads rule, source, hostname and tags", () => {
    expect(matches("alert.rule startswith Write and alert.source = syscall and alert.hostname glob 'web-*'")).toBe(true);
    expect(matches("alert.tags intersects (mitre_persistence, mitre_execution)")).toBe(true);
    expect(matches("alert.tags in (filesystem, mitre_persistence, other)")).toBe(true);
    expect(matches("alert.tags in (filesystem)")).toBe(false);
  });
  it("alert.num[KEY] compares numbers as numbers, from JSON numbers or numeric text", () => {
    const a: Alert = { ...alert, output_fields: { "user.uid": 1000, "evt.count": "42", ratio: "0.5", name: "bash", big: "1e3" } };
    expect(matches("alert.num[user.uid] < 999", a)).toBe(false);
    expect(matches("alert.field[user.uid] < 999", a)).toBe(true); // text: '1000' < '999'
    expect(matches("alert.num[user.uid] >= 1000 and alert.num[evt.count] = 42", a)).toBe(true);
    expect(matches("alert.num[ratio] < 1 and alert.num[big] = 1000", a)).toBe(true);
    expect(matches("alert.num[name] < 1000", a)).toBe(false); // not a number: missing, so false
    expect(matches("not alert.num[name] exists", a)).toBe(true);
    expect(matches("alert.num[user.uid] in (0, 1000)", a)).toBe(true);
  });
  it("reads alert.field[KEY] from output_fields, then custom_fields", () => {
    expect(matches("alert.field[proc.name] = bash")).toBe(true);
    expect(matches("alert.field[user.uid] = 0")).toBe(true);
    expect(matches("alert.field[env] = prod")).toBe(true);
    expect(matches("alert.field[fd.name] = /etc/x")).toBe(true);
    expect(matches("alert.field[missing] exists")).toBe(false);
    expect(matches("not alert.field[missing] = x")).toBe(true);
  });
  it("reports errors with line, column, code and a caret", () => {
    const f = compileAlertFilter("alert.priority >= warning and\n  alert.rule bogus");
    expect(f.ok).toBe(false);
    if (!f.ok) {
      expect(f.errors).toHaveLength(1);
      expect(f.errors[0]).toMatchObject({ line: 2, column: 14, code: "LOAD_ERR_COMPILE_CONDITION" });
      expect(f.errors[0]!.snippet).toBe("  alert.rule bogus\n             ^");
    }
  });
  it("rejects unknown fields, bad priorities and macros", () => {
    const msg = (t: string) => {
      const f = compileAlertFilter(t);
      return f.ok ? "" : f.errors[0]!.message;
    };
    expect(msg("alert.nope = 1")).toMatch(/nonexistent field 'alert.nope'/);
    expect(msg("alert.priority >= loud")).toBe(
      "'loud' is not a valid value for field 'alert.priority' (expected a priority: emergency, alert, critical, error, warning, notice, informational, debug)",
    );
    expect(msg("important")).toMatch(/alert filters have no macros/);
    expect(msg("alert.tags = x")).toMatch(/not supported for list filters/);
  });
});

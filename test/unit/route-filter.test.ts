import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { loadConfig } from "../../src/config/index.js";
import { compileFilter } from "../../src/route/filter.js";

const alert: Alert = {
  uuid: "5a1b6c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
  time: "2024-03-05T07:08:09.123456789Z",
  priority: "Error",
  rule: "Terminal shell in container",
  output: "shell",
  output_fields: { "k8s.ns.name": "prod", "proc.name": "bash" },
  source: "syscall",
  tags: ["k8s", "shell"],
  hostname: "node-1",
  custom_fields: { team: "blue" },
};

function matcher(text: string): (a: Alert) => boolean {
  const r = compileFilter(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.match;
}

describe("output filters", () => {
  it("evaluates the issue's example over the alert source", () => {
    const m = matcher("alert.priority >= warning and alert.tags contains k8s and not alert.field[k8s.ns.name] in (kube-system)");
    expect(m(alert)).toBe(true);
    expect(m({ ...alert, priority: "Notice" })).toBe(false);
    expect(m({ ...alert, tags: ["shell"] })).toBe(false);
    expect(m({ ...alert, output_fields: { "k8s.ns.name": "kube-system" } })).toBe(false);
  });

  it("compares priorities by severity, names case-insensitive", () => {
    expect(matcher("alert.priority > Error")(alert)).toBe(false);
    expect(matcher("alert.priority <= error")(alert)).toBe(true);
    expect(matcher("alert.priority = ERROR")(alert)).toBe(true);
    expect(matcher("alert.priority in (critical, error)")(alert)).toBe(true);
  });

  it("reads custom fields through alert.field and matches rule names", () => {
    expect(matcher("alert.field[team] = blue and alert.rule startswith Terminal")(alert)).toBe(true);
    expect(matcher("alert.tags intersects (mitre, shell) and alert.hostname glob 'node-*'")(alert)).toBe(true);
  });

  it("reports errors at the line and column of the text as written", () => {
    const r = compileFilter("alert.tags contains k8s and\n  alert.priority >= warning and alert.prio = 3");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]).toMatchObject({ line: 2, column: 33, code: "LOAD_ERR_COMPILE_CONDITION" });
    expect(r.errors[0]!.message).toContain("alert.prio");
    const syntax = compileFilter("alert.rule = x and (");
    expect(syntax.ok).toBe(false);
    if (!syntax.ok) expect(syntax.errors[0]!.line).toBe(1);
  });

  it("config check names the output's filter with the position inside the condition", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-filter-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(
      file,
      ["outputs:", "  - name: ok", "    type: stdout", "    filter: alert.priority >= warning", "  - name: bad", "    type: stdout", "    filter: alert.rule = x and alert.hostnam = y"].join("\n"),
    );
    const r = loadConfig(file, {});
    expect(r.config).toBeUndefined();
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ path: "outputs[1].filter", line: 7, severity: "error" });
    expect(r.issues[0]!.message).toBe("condition line 1, column 20: nonexistent field 'alert.hostnam' for source 'alert'");
  });
});

/** A misspelt PEREGRINE_* override is not silently ignored: it warns with a did-you-mean. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatIssue, loadConfig } from "../../src/config/index.js";
import { startRouter, waitUntil } from "../harness/router-process.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function write(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-env-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "peregrine.yaml");
  writeFileSync(file, yaml);
  return file;
}

describe("PEREGRINE_* overrides that match no key", () => {
  it("warn with the closest variable, for any misspelling, not only a known first word", () => {
    const file = write("listen: { port: 3000 }\n");
    for (const [typo, meant] of [
      ["PEREGRINE_LISTN_PORT", "PEREGRINE_LISTEN_PORT"],
      ["PEREGRINE_LISTEN_PROT", "PEREGRINE_LISTEN_PORT"],
      ["PEREGRINE_STORGE_PATH", "PEREGRINE_STORAGE_PATH"],
      ["PEREGRINE_INGEST_MAX_BODY_BYTE", "PEREGRINE_INGEST_MAX_BODY_BYTES"],
    ] as const) {
      const r = loadConfig(file, { [typo]: "4000" });
      expect(r.config, typo).toBeDefined();
      expect(r.config!.listen.port).toBe(3000);
      const warning = r.issues.find((i) => i.path === typo);
      expect(warning?.severity, typo).toBe("warning");
      expect(formatIssue(warning!, file)).toContain(`matches no config key; ignored (did you mean "${meant}"?)`);
    }
  });

  it("stay silent for the variables the CLI reads itself, and for correct overrides", () => {
    const file = write("listen: { port: 3000 }\n");
    const r = loadConfig(file, { PEREGRINE_DEBUG: "1", PEREGRINE_LISTEN_PORT: "4000", HOME: "/root" });
    expect(r.issues).toEqual([]);
    expect(r.config!.listen.port).toBe(4000);
  });

  it("are named on stderr when the router starts", async () => {
    const router = await startRouter({ config: { outputs: [{ name: "out", type: "stdout" }] }, env: { PEREGRINE_LISTN_PORT: "9" } });
    cleanups.push(async () => {
      await router.kill();
      rmSync(dirname(router.configFile), { recursive: true, force: true });
    });
    await waitUntil(() => router.stderr.some((l) => l.includes("PEREGRINE_LISTN_PORT")), 30_000, "the warning on stderr");
    expect(router.stderr.join("\n")).toContain('PEREGRINE_LISTN_PORT: environment variable matches no config key; ignored (did you mean "PEREGRINE_LISTEN_PORT"?)');
  }, 60_000);
});

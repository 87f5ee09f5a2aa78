import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../harness/receiver.js";
import { runCommand } from "../harness/run-command.js";

const REPO = resolve(import.meta.dirname, "../..");
const isRoot = process.getuid?.() === 0;

describe("peregrine run with detector.enabled", () => {
  it.skipIf(!isRoot)("true on a host where the sensor cannot run: one line naming the fix, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-det-"));
    chmodSync(dir, 0o777);
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, `listen: { address: 127.0.0.1, port: ${await freePort()} }\nstorage: { path: ${dir}/data }\ndetector: { enabled: true }\n`);
    // Without privileges (nobody, no capabilities) the sensor cannot load.
    const r = await runCommand("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", process.execPath, "--import", "tsx", "src/cli.ts", "run", "-c", file], {
      cwd: REPO,
      timeoutMs: 240_000,
      env: { ...process.env, PEREGRINE_LOG_LEVEL: "info" },
    });
    expect(r.status).toBe(2);
    const fatal = r.stderr.split("\n").filter((l) => l.includes('"level":60'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatch(/CAP_BPF/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 300_000);

  it.skipIf(!isRoot)("auto on the same host: a warning, and the router runs alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-det-"));
    chmodSync(dir, 0o777);
    const file = join(dir, "peregrine.yaml");
    const port = await freePort();
    writeFileSync(file, `listen: { address: 127.0.0.1, port: ${port} }\nstorage: { path: ${dir}/data }\n`);
    const r = await runCommand(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "sh", "-c", `${process.execPath} --import tsx src/cli.ts run -c ${file} & pid=$!; for i in $(seq 1 400); do curl -sf http://127.0.0.1:${port}/ping && break; sleep 0.5; done; kill $pid; wait $pid`],
      { cwd: REPO, timeoutMs: 240_000 },
    );
    expect(r.stdout).toContain("pong");
    expect(r.stderr).toMatch(/detector skipped: .*CAP_BPF/);
  }, 300_000);
});

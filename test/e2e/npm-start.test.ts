/**
 * The README's first command, as a user runs it: `npm start` builds and starts the router;
 * an alert posted to it comes out of the stdout output; SIGTERM sent to npm (a terminal's
 * Ctrl-C, a service manager's stop) reaches the router, which drains and exits.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil } from "../harness/router-process.js";

const REPO = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "peregrine-npm-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm start", () => {
  it("builds, serves, delivers to stdout, and drains on SIGTERM sent to npm", async () => {
    const port = await freePort();
    const config = join(dir, "peregrine.yaml");
    writeFileSync(
      config,
      `listen: { address: 127.0.0.1, port: ${port} }\nstorage: { path: ${JSON.stringify(join(dir, "data"))} }\ndetector: { enabled: false }\noutputs:\n  - { name: stdout, type: stdout }\n`,
    );
    // its own process group, so that whatever happens the whole group can be cleaned up
    const npm = spawn("npm", ["start", "--", "-c", config], { cwd: REPO, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    npm.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    npm.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((done) => npm.on("exit", () => done()));
    try {
      await waitUntil(() => stderr.includes("peregrine router listening"), 180_000, `the router to listen:\n${stderr}`);
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(1)) });
      expect(res.status).toBe(200);
      const { uuid } = (await res.json()) as { uuid: string };
      await waitUntil(() => stdout.includes(uuid), 60_000, "the alert on stdout");

      npm.kill("SIGTERM"); // npm alone, as a container runtime or `timeout` would
      await waitUntil(() => stderr.includes("stopped; everything delivered"), 20_000, `the router's drain after SIGTERM:\n${stderr}`);
      await exited;
      // the router itself is gone, not left behind the shell
      await expect(fetch(`http://127.0.0.1:${port}/ping`)).rejects.toThrow();
    } finally {
      try {
        process.kill(-npm.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 240_000);
});

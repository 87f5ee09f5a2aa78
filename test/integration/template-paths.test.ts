/**
 * A relative template path in a config file names a file beside that config file, whatever
 * folder the command runs from (the tests run it from the repository root, the config lives
 * in a temporary folder); a path to a template shipped with Peregrine still works from there.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";
import { stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { freePort, Receiver } from "../harness/receiver.js";
import { makeAlert, waitUntil } from "../harness/router-process.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "peregrine-template-paths-"));
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

writeFileSync(join(dir, "body.hbs"), '{"beside_the_config": true, "rule": {{json rule}} }');
writeFileSync(join(dir, "msg.hbs"), '{"blocks": [], "text": {{json output}} }');

describe("relative template paths", () => {
  it("resolve against the config file's folder, not the working directory", () => {
    const file = join(dir, "relative.yaml");
    writeFileSync(
      file,
      stringify({
        storage: { path: join(dir, "data") },
        outputs: [
          { name: "hook", type: "webhook", url: "http://127.0.0.1:9/", body_template: "body.hbs" },
          { name: "chat", type: "slack", webhook_url: "https://hooks.slack.com/services/T0/B0/x", template_file: "msg.hbs", digest: { template_file: "./msg.hbs" } },
          { name: "shipped", type: "webhook", url: "http://127.0.0.1:9/", body_template: "templates/webhook-generic.hbs" },
          { name: "inline", type: "webhook", url: "http://127.0.0.1:9/", body_template: '{"r": {{json rule}} }' },
        ],
      }),
    );
    expect(process.cwd()).not.toBe(dir);
    const r = loadConfig(file, {});
    expect(r.issues.filter((i) => i.severity === "error")).toEqual([]);
    const options = (name: string) => r.config!.outputs.find((o) => o.name === name)!.options;
    expect(options("hook").body_template).toBe(join(dir, "body.hbs"));
    expect(options("chat").template_file).toBe(join(dir, "msg.hbs"));
    expect((options("chat").digest as { template_file: string }).template_file).toBe(join(dir, "msg.hbs"));
    // Not beside the config: the template shipped with Peregrine of that name.
    expect(options("shipped").body_template).toBe(join(ROOT, "templates/webhook-generic.hbs"));
    // Inline Handlebars is text, not a path.
    expect(options("inline").body_template).toBe('{"r": {{json rule}} }');
  });

  it("a missing template is named by the path beside the config", () => {
    const file = join(dir, "missing.yaml");
    writeFileSync(file, stringify({ outputs: [{ name: "hook", type: "webhook", url: "http://127.0.0.1:9/", body_template: "nope.hbs" }] }));
    const r = loadConfig(file, {});
    const errors = r.issues.filter((i) => i.severity === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe("outputs[0].body_template");
    expect(errors[0]!.message).toContain(`cannot read ${join(dir, "nope.hbs")} (ENOENT)`);
  });

  it("the router started from another folder renders the template beside its config", async () => {
    const receiver = await new Receiver().start();
    const port = await freePort();
    const file = join(dir, "router.yaml");
    writeFileSync(
      file,
      stringify({
        listen: { address: "127.0.0.1", port },
        storage: { path: mkdtempSync(join(dir, "router-data-")) },
        outputs: [{ name: "hook", type: "webhook", url: receiver.url, body_template: "body.hbs" }],
      }),
    );
    const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli.ts"), "router", "-c", file], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      await check(proc, port, receiver, () => stderr);
    } finally {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      await receiver.stop();
    }
  }, 180_000);
});

async function check(proc: ChildProcess, port: number, receiver: Receiver, stderr: () => string): Promise<void> {
    await waitUntil(
      async () => {
        if (proc.exitCode !== null) throw new Error(`router exited ${proc.exitCode}: ${stderr()}`);
        try {
          const res = await request(`http://127.0.0.1:${port}/ping`);
          await res.body.dump();
          return res.statusCode === 200;
        } catch {
          return false;
        }
      },
      60_000,
      "the router to answer",
    );
    const res = await request(`http://127.0.0.1:${port}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(1, { rule: "Template beside config" })) });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    await waitUntil(() => receiver.requests.length >= 1, 60_000, "the webhook to receive the alert");
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual({ beside_the_config: true, rule: "Template beside config" });
}

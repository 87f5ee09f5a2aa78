/**
 * The real command line given bad input: each case spawns `node --import tsx src/cli.ts ...`
 * and checks the exit code (docs/cli.md: 1 invalid input, 2 usage), that the message is
 * short and names the flag, file, line or field, and that no stack trace is printed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startRouter, waitUntil } from "../harness/router-process.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "peregrine-cli-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A valid config whose journal lives in the temporary directory and whose port nothing listens on. */
const GOOD = file("good.yaml", `listen: { address: 127.0.0.1, port: 1 }\nstorage: { path: ${JSON.stringify(join(dir, "data"))} }\noutputs:\n  - { name: out, type: stdout }\n`);
const BAD_YAML = file("bad-yaml.yaml", "listen:\n  port: 2801\n  address: [1\nlog: { level: info }\n");
const BAD_TYPE = file("bad-type.yaml", "listen:\n  port: abc\nstorage:\n  fsync: maybe\n");
const BAD_ALIAS = file("bad-alias.yaml", "listen:\n  port: 2801\nlog: *level\n");
const MISSING = join(dir, "missing.yaml");
const RULES = file("rules.yaml", "- rule: shell\n  desc: d\n  condition: evt.type = execve and proc.name = bash\n  output: shell %proc.name\n  priority: WARNING\n");
const BAD_RULES = file("bad-rules.yaml", "- rule: shell\n  desc: d\n  condition: evt.type = execve and proc.name = (\n  output: shell %proc.name\n  priority: WARNING\n");
const BAD_EVENTS = file("bad.jsonl", '{"fields": {"evt.type": "execve", "proc.name": "bash"}}\n{"fields": {"evt.type": "execve", "proc.nme": "bash"}}\n');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: ROOT,
      // no PEREGRINE_* from the caller's environment, and no TTY: logs stay plain
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** No stack trace, in any of its shapes: "    at fn (file:1:2)", "Error: x\n    at", node's "^^^^" source excerpt. */
function expectNoStack(r: Run): void {
  const all = `${r.stdout}\n${r.stderr}`;
  expect(all, all).not.toMatch(/^\s+at .*(:\d+:\d+\)?|<anonymous>)$/m);
  expect(all, all).not.toMatch(/\b\w*Error: .*\n\s+at /);
  expect(all, all).not.toMatch(/node:internal|triggerUncaughtException/);
  // nor a Node process warning ("(node:123) [CODE] SomeWarning: ...")
  expect(all, all).not.toMatch(/\(node:\d+\)/);
}

/** The message a user reads: the first lines, short. */
function expectShort(text: string, maxLines = 25): void {
  expect(text.trim().split("\n").length, text).toBeLessThanOrEqual(maxLines);
}

describe("the command line with bad input", () => {
  it("an unknown command: exit 2, names it", async () => {
    const r = await cli(["nosuch"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "nosuch"');
    expectShort(r.stderr);
    expectNoStack(r);
  });

  it("an unknown flag: exit 2, names the flag", async () => {
    for (const args of [["config", "check", "--nope"], ["router", "--bogus"], ["dlq", "list", "--nope", "-c", GOOD], ["rules", "validate", "-r", RULES, "--nope"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/--(nope|bogus)/);
      expectShort(r.stderr);
      expectNoStack(r);
    }
  });

  it("--help on every command: exit 0 and the command's usage, not an unknown-option error", async () => {
    for (const name of ["run", "router", "detect", "dlq", "config", "rules"]) {
      const r = await cli([name, "--help"]);
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toContain(`peregrine ${name} `);
      expect(r.stderr, name).toBe("");
    }
  });

  it("a flag without its value: exit 2, names the flag", async () => {
    for (const [args, flag] of [
      [["config", "check", "-c"], "-c"],
      [["router", "--port"], "--port"],
      [["rules", "test", "-r", RULES, "--events"], "--events"],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain(flag);
      expect(r.stderr).toMatch(/missing|needs a value/);
      expectShort(r.stderr);
      expectNoStack(r);
    }
  });

  it("an unknown subcommand: exit 2, names it", async () => {
    for (const args of [["config", "nosuch"], ["dlq", "nosuch"], ["rules", "nosuch"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain("nosuch");
      expectShort(r.stderr);
      expectNoStack(r);
    }
  });

  it("a config file that does not exist: exit 1, names the file", async () => {
    for (const args of [["config", "check", "-c", MISSING], ["router", "-c", MISSING], ["dlq", "list", "-c", MISSING]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(`${r.stdout}${r.stderr}`, args.join(" ")).toContain(`config file not found: ${MISSING}`);
      expectShort(r.stdout + r.stderr, 3);
      expectNoStack(r);
    }
  });

  it("a storage path that cannot be a directory: exit 3 at once, names the path and the reason", async () => {
    // Under /proc the kernel answers ENOENT to mkdir although the parent exists, where a
    // recursive mkdir would retry forever; a regular file in the path is ENOTDIR.
    for (const [path, reason] of [
      ["/proc/peregrine-no-such-dir/data", "ENOENT"],
      [join(GOOD, "data"), "ENOTDIR"],
    ] as const) {
      const r = await cli(["router", "-c", GOOD], { PEREGRINE_STORAGE_PATH: path });
      expect(r.code, path).toBe(3);
      expect(`${r.stdout}${r.stderr}`, path).toContain(`cannot open the journal in ${path}: ${reason}`);
      expectShort(r.stdout + r.stderr, 3);
      expectNoStack(r);
    }
  });

  it("a config with a YAML syntax error: exit 1, names file and line", async () => {
    const r = await cli(["config", "check", "-c", BAD_YAML]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`${BAD_YAML.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: invalid YAML`));
    expectShort(r.stdout, 4);
    expectNoStack(r);
  });

  it("a config with an alias to no anchor: exit 1, names file, line and column", async () => {
    const r = await cli(["config", "check", "-c", BAD_ALIAS]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${BAD_ALIAS}:3:6: invalid YAML: Unresolved alias`);
    expectNoStack(r);
  });

  it("a config with values of the wrong type: exit 1, every one named with file, line and path", async () => {
    for (const args of [["config", "check", "-c", BAD_TYPE], ["router", "-c", BAD_TYPE]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(1);
      const out = `${r.stdout}${r.stderr}`;
      expect(out).toContain(`${BAD_TYPE}:2:9: listen.port: must be an integer, got "abc"`);
      expect(out).toContain(`${BAD_TYPE}:4:10: storage.fsync: must be true or false, got "maybe"`);
      expectShort(out, 5);
      expectNoStack(r);
    }
  });

  it("config check --json: the same problems as JSON with path, line and column", async () => {
    const r = await cli(["config", "check", "--json", "-c", BAD_TYPE]);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout) as { valid: boolean; issues: { path: string; line: number; column: number; code: string }[] };
    expect(body.valid).toBe(false);
    expect(body.issues.map((i) => [i.path, i.line, i.column, i.code])).toEqual([
      ["listen.port", 2, 9, "CONFIG_INVALID"],
      ["storage.fsync", 4, 10, "CONFIG_INVALID"],
    ]);
    const yaml = file("broken.yaml", "listen: [1\n");
    const broken = JSON.parse((await cli(["config", "check", "--json", "-c", yaml])).stdout) as { issues: { code: string }[] };
    expect(broken.issues.map((i) => i.code)).toEqual(["CONFIG_YAML_PARSE"]);
  });

  it("an environment override that is not valid YAML: exit 1, names the key and the variable", async () => {
    const r = await cli(["config", "check", "-c", GOOD], { PEREGRINE_LISTEN_PORT: "[1" });
    expect(r.code).toBe(1);
    // the file's own listen.port line would point at the wrong value: the variable is named instead
    expect(r.stdout).toContain('error: listen.port: must be an integer, got "[1" (set by PEREGRINE_LISTEN_PORT)');
    expectNoStack(r);
    const tagged = await cli(["config", "check", "-c", GOOD], { PEREGRINE_LISTEN_PORT: "!x" });
    expect(tagged.code).toBe(1);
    expect(tagged.stdout).toContain('listen.port: must be an integer, got "!x" (set by PEREGRINE_LISTEN_PORT)');
    const output = await cli(["config", "check", "-c", GOOD], { PEREGRINE_OUTPUTS_OUT_FORMAT: "xml" });
    expect(output.code).toBe(1);
    expect(output.stdout).toContain('error: outputs[0].format: must be one of json, text, got "xml" (set by PEREGRINE_OUTPUTS_OUT_FORMAT)');
    expectNoStack(tagged);
  });

  it("--port that is not a port: exit 2, names the flag and the value", async () => {
    for (const args of [["router", "-c", GOOD, "--port", "abc"], ["run", "-c", GOOD, "--port", "abc"], ["router", "-c", GOOD, "-p", "99999"], ["router", "-c", GOOD, "--port="], ["router", "-c", GOOD, "-p", "0x50"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/--port must be a port number, got "(abc|99999||0x50)"/);
      expectShort(r.stderr, 2);
      expectNoStack(r);
    }
  });

  it("rules validate on a missing file: exit 1, names the file", async () => {
    const r = await cli(["rules", "validate", "-r", MISSING]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${MISSING}`);
    expect(r.stderr).toContain("LOAD_ERR_FILE_READ");
    expectShort(r.stderr, 3);
    expectNoStack(r);
  });

  it("rules validate on a broken rules file: exit 1, names file, line, column, code and rule", async () => {
    const r = await cli(["rules", "validate", "-r", BAD_RULES]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${BAD_RULES}:3:48: error LOAD_ERR_COMPILE_CONDITION rule 'shell'`);
    expect(r.stdout).toContain("FAILED: 1 errors");
    expectShort(r.stderr, 5);
    expectNoStack(r);
  });

  it("rules test without --events: exit 2, names the flag", async () => {
    const r = await cli(["rules", "test", "-r", RULES]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs --events");
    expectShort(r.stderr);
    expectNoStack(r);
  });

  it("rules test with a missing or bad events file: exit 1, names file and line", async () => {
    const missing = await cli(["rules", "test", "-r", RULES, "--events", join(dir, "none.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read events file '${join(dir, "none.jsonl")}'`);
    expectNoStack(missing);
    const bad = await cli(["rules", "test", "-r", RULES, "--events", BAD_EVENTS]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${BAD_EVENTS}:2: unknown field 'proc.nme'`);
    expectShort(bad.stderr, 2);
    expectNoStack(bad);
  });

  it("dlq replay --output with no such output: exit 2, names the flag and the known outputs", async () => {
    const r = await cli(["dlq", "replay", "--output", "nosuch", "-c", GOOD]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--output: no output named "nosuch"');
    expect(r.stderr).toContain("known: out");
    expectShort(r.stderr, 2);
    expectNoStack(r);
  });

  it("dlq replay: with no router it writes the journal and says so; a router that refuses is exit 3 with its answer", async () => {
    const offline = await cli(["dlq", "replay", "-c", GOOD]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toContain("no router answered at http://127.0.0.1:1; replayed 0 dead letter(s) in the journal");

    const router = await startRouter({ config: { ingest: { auth: { tokens: ["right-token"] } }, outputs: [{ name: "out", type: "stdout" }] } });
    try {
      await waitUntil(async () => (await router.get("/ping")).status === 200, 30_000, "the router to listen");
      const wrongToken = file(
        "wrong-token.yaml",
        `listen: { address: 127.0.0.1, port: ${router.port} }\nstorage: { path: ${JSON.stringify(router.dataDir)} }\ningest: { auth: { tokens: [wrong-token] } }\noutputs:\n  - { name: out, type: stdout }\n`,
      );
      const refused = await cli(["dlq", "replay", "-c", wrongToken]);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`error: the router at http://127.0.0.1:${router.port} refused the replay: HTTP 401: a valid bearer token is required`);
      expect(refused.stderr).toContain("nothing replayed");
      expect(refused.stdout).toBe("");
      expectShort(refused.stderr, 1);
      expectNoStack(refused);
    } finally {
      await router.kill();
    }
  });

  it("dlq with a --limit or --id that is not a number: exit 2, names the flag", async () => {
    const limit = await cli(["dlq", "list", "--limit", "abc", "-c", GOOD]);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit must be a positive integer, got "abc"');
    expectNoStack(limit);
    const id = await cli(["dlq", "replay", "--id", "x1", "-c", GOOD]);
    expect(id.code).toBe(2);
    expect(id.stderr).toContain('--id must be a dead letter\'s number, got "x1"');
    expectNoStack(id);
  });

  it("dlq list with a config whose secret is not set: exit 1, names the variable, points at --storage", async () => {
    const cfg = file("needs-secret.yaml", `storage: { path: ${JSON.stringify(join(dir, "data"))} }\noutputs:\n  - { name: chat, type: slack, webhook_url: "\${PG_TEST_UNSET_SLACK_URL}" }\n`);
    const r = await cli(["dlq", "list", "-c", cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("environment variable PG_TEST_UNSET_SLACK_URL is not set");
    expect(r.stderr).toContain("hint: peregrine dlq list --storage DIR reads the journal without the config");
    expectNoStack(r);
    const none = await cli(["dlq", "list", "--storage", join(dir, "no-journal-here")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`--storage: no journal in ${join(dir, "no-journal-here")}`);
    const replay = await cli(["dlq", "replay", "--storage", join(dir, "data")]);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain("--storage is for dlq list");
  });

  it("detect without --router: exit 2, names the flag", async () => {
    const r = await cli(["detect"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--router");
    expectShort(r.stderr, 3);
    expectNoStack(r);
  });

  it("config import-sidekick on a missing or broken file: exit 1, names the file", async () => {
    const missing = await cli(["config", "import-sidekick", MISSING]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read ${MISSING}`);
    expectNoStack(missing);
    const broken = await cli(["config", "import-sidekick", BAD_ALIAS]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${BAD_ALIAS}:3:6: invalid YAML`);
    expectNoStack(broken);
  });
});

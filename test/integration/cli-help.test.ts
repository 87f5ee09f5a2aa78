/**
 * Every command and subcommand the CLI lists answers `--help` and `-h` with its usage and exit
 * code 0 — before any of its flags are parsed, so no "unknown option" gets in the way. The
 * list is read from `peregrine --help` itself, so a command added later is walked too, and
 * docs/cli.md must name each of them.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, type CliRun } from "../harness/run-command.js";

const ROOT = resolve(import.meta.dirname, "../..");

const cli = (args: string[]): Promise<CliRun> => runCli(args);

/** Runs at most `n` at a time: two cores, each spawn compiles TypeScript. */
async function inBatches<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

/** `peregrine NAME [SUB]` for every command line of the top-level help. */
function listed(help: string): string[][] {
  const commands: string[][] = [];
  for (const line of help.split("\n")) {
    const m = /^ {2}peregrine ([a-z][\w-]*)(?: ([a-z][\w-]*)(?=\s|$))?/.exec(line);
    if (m) commands.push(m[2] ? [m[1]!, m[2]] : [m[1]!]);
  }
  return commands;
}

describe("--help on every command the CLI lists", () => {
  it("walks every command and subcommand: exit 0, its usage on stdout, nothing on stderr", async () => {
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    const commands = listed(top.stdout);
    const names = commands.map((c) => c.join(" "));
    // The walk covers what the issue named, and the commands themselves without a subcommand.
    for (const must of ["run", "router", "detect", "config check", "config import-sidekick", "rules validate", "rules test", "rules update", "dlq list", "dlq replay"])
      expect(names).toContain(must);
    const tops = [...new Set(commands.map((c) => c[0]!))].map((n) => [n]);
    const cases = [...commands, ...tops.filter((t) => !names.includes(t[0]!))].flatMap((c) => [
      [...c, "--help"],
      [...c, "-h"],
    ]);
    // --help after other flags, even unknown ones, still answers with the usage.
    cases.push(["config", "check", "--nope", "--help"], ["rules", "validate", "-r", "x.yaml", "--help"], ["dlq", "list", "--output", "x", "-h"]);
    const runs = await inBatches(cases, 4, async (args) => ({ args, r: await cli(args) }));
    for (const { args, r } of runs) {
      const what = args.join(" ");
      expect(r.code, what).toBe(0);
      expect(r.stderr, what).toBe("");
      expect(r.stdout, what).toMatch(/^usage:\n|^peregrine — /);
      const words = args.filter((a) => !a.startsWith("-") && a !== "x.yaml" && a !== "x");
      if (words[0] !== "help") expect(r.stdout, what).toContain(`peregrine ${words.join(" ")}`);
    }
  }, 600_000);

  it("a subcommand's help names that subcommand, not its siblings; `help COMMAND SUB` is the same", async () => {
    const [check, viaHelp, test] = await Promise.all([cli(["config", "check", "--help"]), cli(["help", "config", "check"]), cli(["rules", "test", "--help"])]);
    expect(check.stdout).toContain("peregrine config check");
    expect(check.stdout).not.toContain("import-sidekick");
    expect(viaHelp).toEqual(check);
    expect(test.stdout).toContain("--events FILE");
    expect(test.stdout).not.toContain("peregrine rules validate");
  }, 300_000);

  it("docs/cli.md names every command the CLI lists", async () => {
    const top = await cli(["--help"]);
    const doc = readFileSync(resolve(ROOT, "docs/cli.md"), "utf8");
    for (const c of listed(top.stdout)) expect(doc, c.join(" ")).toContain(`peregrine ${c.join(" ")}`);
  }, 300_000);
});

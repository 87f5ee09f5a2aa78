import { parseArgs } from "node:util";
import { loadConfig, formatIssue } from "../config/index.js";
import { PeregrineError, type ErrorCode } from "../errors.js";
import { EXIT } from "./common.js";

/** `peregrine config check [-c FILE] [--json]`: every problem, with path and line; exit 1 when any. */
export async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "import-sidekick") {
    const { importSidekickCommand } = await import("./import-sidekick.js");
    return importSidekickCommand(rest);
  }
  if (sub !== "check") {
    const usage = "usage: peregrine config check [-c FILE] [--json]\n       peregrine config import-sidekick FILE\n";
    if (sub === "-h" || sub === "--help") {
      process.stdout.write(usage);
      return EXIT.OK;
    }
    if (sub !== undefined) process.stderr.write(`error: unknown subcommand "${sub}"\n`);
    process.stderr.write(usage);
    return EXIT.USAGE;
  }
  const { values } = parseArgs({ args: rest, options: { config: { type: "string", short: "c" }, json: { type: "boolean" } }, strict: true });
  try {
    const result = loadConfig(values.config);
    if (result.config?.response?.enabled) {
      // The response rules files are part of what the router will refuse to start on.
      const { responseRulesIssues } = await import("../response/index.js");
      result.issues.push(...responseRulesIssues(result.config));
    }
    const errors = result.issues.filter((i) => i.severity === "error");
    if (values.json) {
      // every error carries a code: its own, or the general one
      const issues = result.issues.map((i) => (i.severity === "error" && i.code === undefined ? { ...i, code: "CONFIG_INVALID" satisfies ErrorCode } : i));
      process.stdout.write(`${JSON.stringify({ source: result.source, valid: errors.length === 0, issues }, null, 2)}\n`);
    } else {
      for (const issue of result.issues) process.stdout.write(`${formatIssue(issue, result.source)}\n`);
      if (errors.length === 0) {
        const outputs = result.config?.outputs.map((o) => `${o.name} (${o.type})`).join(", ");
        process.stdout.write(`${result.source}: valid; outputs: ${outputs || "none"}\n`);
      } else process.stdout.write(`${result.source}: ${errors.length} problem${errors.length === 1 ? "" : "s"}\n`);
    }
    return errors.length === 0 ? EXIT.OK : EXIT.INVALID;
  } catch (err) {
    if (err instanceof PeregrineError) {
      process.stdout.write(`error: ${err.message}\n`);
      return EXIT.INVALID;
    }
    throw err;
  }
}

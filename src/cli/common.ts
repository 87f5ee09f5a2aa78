import { loadConfig, formatIssue, type Config } from "../config/index.js";
import { PeregrineError } from "../errors.js";

/** Exit codes, documented in docs/cli.md. */
export const EXIT = { OK: 0, INVALID: 1, USAGE: 2, RUNTIME: 3 } as const;

/** Loads the config or prints every problem and returns undefined. */
export function loadConfigOrReport(file: string | undefined): Config | undefined {
  try {
    const result = loadConfig(file);
    for (const issue of result.issues) process.stderr.write(`${formatIssue(issue, result.source)}\n`);
    if (!result.config) {
      const n = result.issues.filter((i) => i.severity === "error").length;
      process.stderr.write(`${result.source}: ${n} problem${n === 1 ? "" : "s"}; fix ${n === 1 ? "it" : "them"} and try again\n`);
      return undefined;
    }
    return result.config;
  } catch (err) {
    if (err instanceof PeregrineError) {
      process.stderr.write(`error: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}

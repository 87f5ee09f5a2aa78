/**
 * `peregrine rules validate -r FILE_OR_DIR... [--json]`
 * `peregrine rules test -r FILE_OR_DIR... --events FILE.jsonl [--all]`
 * `peregrine rules update [REF] [--dir DIR] [--plain-http]` (src/cli/rules-update.ts)
 *
 * Exit codes: 0 ok, 1 load errors (or bad events, or a bad artifact), 2 usage, 3 registry or disk.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import {
  defaultSources,
  expandRulesPaths,
  formatMessage,
  LoadResults,
  loadRules,
  parseReplay,
  ReplayFormatError,
  replaySource,
  type LoadMessage,
} from "../detector/index.js";
import { PeregrineError } from "../errors.js";

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

const SUBCOMMAND_USAGE = {
  validate: `  peregrine rules validate -r FILE_OR_DIR... [--json]
      load rules files and print Falco-style load results
      -r, --rules PATH   rules file or directory (repeatable; loaded in order)
      --json             print falco_load_results as JSON (as falco -V does)
`,
  test: `  peregrine rules test -r FILE_OR_DIR... --events FILE.jsonl [--all]
      replay events through the rules and print one Falco JSON alert per line
      -r, --rules PATH   rules file or directory (repeatable; loaded in order)
      --events FILE      replay events from a JSONL file (one event per line)
      --all              report every matching rule, not only the first (rule_matching: all)
`,
  update: `  peregrine rules update [REF] [--dir DIR] [--plain-http]
      install Falco's newest rules from an OCI registry, as falcoctl does
      REF                the artifact (default: ghcr.io/falcosecurity/rules/falco-rules:5);
                         pin one with REF@sha256:DIGEST
      --dir DIR          the folder to write (default: the rules/falco/ the detector loads)
      --plain-http       talk HTTP, not HTTPS, to the registry (a local one)
`,
} as const;
type Subcommand = keyof typeof SUBCOMMAND_USAGE;

const EXIT_CODES = "exit codes: 0 ok, 1 rules with errors, bad events or a bad artifact, 2 usage, 3 registry unreachable or folder not writable\n";

/** The usage of one subcommand, or of all of them. */
export function rulesUsage(sub?: string): string {
  const text = sub !== undefined && Object.hasOwn(SUBCOMMAND_USAGE, sub) ? SUBCOMMAND_USAGE[sub as Subcommand] : Object.values(SUBCOMMAND_USAGE).join("");
  return `usage:\n${text}\n${EXIT_CODES}`;
}

interface Parsed {
  command: "validate" | "test";
  rules: string[];
  json: boolean;
  events?: string;
  all: boolean;
}

class UsageError extends PeregrineError {
  constructor(message: string) {
    super("CLI_USAGE", message);
    this.name = "UsageError";
  }
}

function parseArgs(argv: readonly string[]): Parsed {
  const [command, ...rest] = argv;
  if (command !== "validate" && command !== "test") {
    throw new UsageError(command === undefined ? "missing subcommand" : `unknown subcommand '${command}'`);
  }
  const parsed: Parsed = { command, rules: [], json: false, all: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined || v.startsWith("-")) throw new UsageError(`flag '${a}' needs a value`);
      return v;
    };
    if (a === "-r" || a === "--rules") parsed.rules.push(value());
    else if (a.startsWith("--rules=")) parsed.rules.push(a.slice(8));
    else if (a === "--json") parsed.json = true;
    else if (a === "--events") parsed.events = value();
    else if (a.startsWith("--events=")) parsed.events = a.slice(9);
    else if (a === "--all") parsed.all = true;
    else throw new UsageError(`unknown flag '${a}'`);
  }
  if (parsed.rules.length === 0) throw new UsageError("at least one -r FILE_OR_DIR is required");
  if (command === "test" && !parsed.events) throw new UsageError("'rules test' needs --events FILE.jsonl");
  if (command === "validate" && parsed.events) throw new UsageError("--events is only for 'rules test'");
  if (command === "test" && parsed.json) throw new UsageError("--json is only for 'rules validate'");
  return parsed;
}

function jsonMessage(m: LoadMessage): Record<string, unknown> {
  const position: Record<string, unknown> = { name: m.position.file, line: m.position.line, column: m.position.column };
  if (m.position.offset !== undefined) position.offset = m.position.offset;
  const location: Record<string, unknown> = { item_type: m.item?.type ?? "", item_name: m.item?.name ?? "", position };
  const context: Record<string, unknown> = { locations: [location] };
  if (m.snippet) context.snippet = m.snippet;
  return { code: m.code, codedesc: m.codeDesc, message: m.message, context };
}

/** falco -V style: one entry per rules file with its errors and warnings. */
export function loadResultsJson(files: readonly string[], errors: readonly LoadMessage[], warnings: readonly LoadMessage[]): string {
  const names = [...files];
  for (const m of [...errors, ...warnings]) if (!names.includes(m.position.file)) names.push(m.position.file);
  const entries = names.map((name) => {
    const errs = errors.filter((m) => m.position.file === name);
    return {
      name,
      successful: errs.length === 0,
      errors: errs.map(jsonMessage),
      warnings: warnings.filter((m) => m.position.file === name).map(jsonMessage),
    };
  });
  return JSON.stringify({ falco_load_results: entries }, null, 2);
}

export async function runRulesCommand(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv[0] === "help" || argv.includes("-h") || argv.includes("--help")) {
    io.stdout(rulesUsage(argv[0]));
    return 0;
  }
  if (argv[0] === "update") return runRulesUpdate(argv.slice(1), io);
  let args: Parsed;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`peregrine rules: ${err.message}\n${rulesUsage(argv[0])}`);
      return 2;
    }
    throw err;
  }

  const syscall = replaySource();
  const sources = [syscall, ...defaultSources().filter((s) => s.name !== "syscall")];
  const { ruleset, results } = loadRules({ files: args.rules, sources, ruleMatching: args.all ? "all" : "first" });

  if (args.command === "validate") {
    if (args.json) {
      const files = expandRulesPaths(args.rules, new LoadResults());
      io.stdout(loadResultsJson(files, results.errors, results.warnings) + "\n");
    } else {
      for (const e of results.errors) io.stderr(formatMessage(e, "error") + "\n");
      for (const w of results.warnings) io.stderr(formatMessage(w, "warning") + "\n");
      const enabled = ruleset.rules.filter((r) => r.enabled).length;
      io.stdout(
        results.ok
          ? `OK: ${ruleset.rules.length} rules (${enabled} enabled), ${results.warnings.length} warnings\n`
          : `FAILED: ${results.errors.length} errors, ${results.warnings.length} warnings\n`,
      );
    }
    return results.ok ? 0 : 1;
  }

  if (!results.ok) {
    for (const e of results.errors) io.stderr(formatMessage(e, "error") + "\n");
    return 1;
  }
  let text: string;
  try {
    text = readFileSync(args.events!, "utf8");
  } catch (err) {
    io.stderr(`peregrine rules: cannot read events file '${args.events}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }
  let events;
  try {
    events = parseReplay(text, undefined, "syscall");
  } catch (err) {
    if (err instanceof ReplayFormatError) {
      io.stderr(`${args.events}:${err.line}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  for (const ev of events) {
    for (const alert of ruleset.evaluate(syscall, ev)) io.stdout(JSON.stringify(alert) + "\n");
  }
  return 0;
}

/** `rules update`: flags here, the pull and the install in rules-update.ts. */
async function runRulesUpdate(argv: readonly string[], io: CliIo): Promise<number> {
  let reference: string | undefined;
  let dir: string | undefined;
  let plainHttp = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--dir") {
      const v = argv[++i];
      if (v === undefined || v.startsWith("-")) {
        io.stderr(`peregrine rules: flag '--dir' needs a value\n${rulesUsage("update")}`);
        return 2;
      }
      dir = v;
    } else if (a.startsWith("--dir=")) dir = a.slice(6);
    else if (a === "--plain-http") plainHttp = true;
    else if (a.startsWith("-") || reference !== undefined) {
      io.stderr(`peregrine rules: ${a.startsWith("-") ? `unknown flag '${a}'` : `one artifact reference at a time, got '${reference}' and '${a}'`}\n${rulesUsage("update")}`);
      return 2;
    } else reference = a;
  }
  const { DEFAULT_RULES_REFERENCE, defaultRulesDir, rulesUpdateExit, updateRules } = await import("./rules-update.js");
  const ref = reference ?? DEFAULT_RULES_REFERENCE;
  try {
    const r = await updateRules({ reference: ref, plainHttp, ...(dir !== undefined ? { dir } : {}) });
    io.stdout(
      r.changed
        ? `installed ${r.name} ${r.version} from ${r.reference} (${r.manifestDigest}) into ${r.dir}: ${r.files.join(", ")}; restart peregrine to load them\n`
        : `${r.name} ${r.version} from ${r.reference} (${r.manifestDigest}) is already in ${r.dir}\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof PeregrineError)) throw err;
    // A failed write may have replaced some files already; every other failure wrote nothing.
    const unchanged = err.code === "CLI_USAGE" || err.code === "RULES_UPDATE_WRITE_FAILED" ? "" : `; the rules in ${dir ?? defaultRulesDir()} are unchanged`;
    io.stderr(`peregrine rules update: error ${err.code}: ${err.message}${unchanged}\n`);
    return rulesUpdateExit(err);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runRulesCommand(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`peregrine rules: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}

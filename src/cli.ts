#!/usr/bin/env node
import { EXIT } from "./cli/common.js";
import { errorMessage } from "./errors.js";

const HELP = `peregrine — runtime-security alert router and detector

usage:
  peregrine run [-c FILE] [-p PORT]        router and embedded detector (npm start)
  peregrine router [-c FILE] [-p PORT]     the router alone
  peregrine detect --router URL [-c FILE] [--spool FILE] [--token T]
                                           the detector alone, sending to a router
  peregrine config check [-c FILE] [--json]
  peregrine config import-sidekick FILE    translate a Falcosidekick config
  peregrine rules validate -r FILE... [--json]
  peregrine rules test -r FILE... --events FILE.jsonl
  peregrine dlq list [--output NAME] [--json] [--storage DIR]
  peregrine dlq replay [--output NAME] [--id N]...

exit codes: 0 ok, 1 invalid input (config, rules), 2 usage or missing prerequisite, 3 runtime failure
config: -c FILE, default ./peregrine.yaml, built-in defaults when absent; see docs/configuration.md
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./cli/run.js")).runCommandWithExtensions(true),
  router: async () => (await import("./cli/run.js")).runCommandWithExtensions(false),
  config: async () => (await import("./cli/config.js")).configCommand,
  dlq: async () => (await import("./cli/dlq.js")).dlqCommand,
  rules: async () => (await import("./cli/rules.js")).runRulesCommand,
  detect: async () => (await import("./cli/detect.js")).detectCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write("peregrine 0.1.0\n");
    return EXIT.OK;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`unknown command "${name}"\n\n${HELP}`);
    return EXIT.USAGE;
  }
  // Commands without a usage text of their own answer --help with their lines of HELP.
  if ((rest.includes("--help") || rest.includes("-h")) && name !== "config" && name !== "rules") {
    const lines = HELP.split("\n");
    // a command's line, and the description continuing on the next line when it wraps
    const own = lines.filter((l, i) => l.startsWith(`  peregrine ${name} `) || (/^ {20,}\S/.test(l) && lines[i - 1]!.startsWith(`  peregrine ${name} `)));
    const footer = lines.filter((l) => l.startsWith("exit codes:") || l.startsWith("config:"));
    process.stdout.write(`usage:\n${own.join("\n")}\n\n${footer.join("\n")}\n`);
    return EXIT.OK;
  }
  const command = await load();
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // parseArgs and our usage errors are user mistakes: one line, no stack.
    const code = (err as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`error: ${errorMessage(err)}\n`);
      process.exitCode = EXIT.USAGE;
      return;
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    if (process.env.PEREGRINE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = EXIT.RUNTIME;
  },
);

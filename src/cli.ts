#!/usr/bin/env node
import { EXIT } from "./cli/common.js";
import { didYouMean } from "./config/schema.js";
import { errorMessage } from "./errors.js";

const HELP = `peregrine — runtime-security alert router and detector

usage:
  peregrine run [-c FILE] [-p PORT] [--start-fresh]
                                           router and embedded detector (npm start)
  peregrine router [-c FILE] [-p PORT] [--start-fresh]
                                           the router alone
  peregrine detect --router URL [-c FILE] [--storage DIR] [--token T] [--ca-file F] [--cert-file F --key-file F]
                                           the detector alone, sending to a router
  peregrine config check [-c FILE] [--json]
                                           validate a config; every problem with its place
  peregrine config import-sidekick FILE [-o OUT.yaml] [--ignore-env]
                                           translate a Falcosidekick config
  peregrine rules validate -r FILE... [--json]
                                           load rules files, print Falco-style load results
  peregrine rules test -r FILE... --events FILE.jsonl [--all]
                                           replay events through rules, one alert per line
  peregrine rules update [REF] [--dir DIR] [--plain-http]
                                           install Falco's newest rules (an OCI artifact)
  peregrine dlq list [--output NAME] [--limit N] [--json] [-c FILE | --storage DIR]
  peregrine dlq replay [--output NAME] [--id N]... [-c FILE]
  peregrine response validate -r FILE... [--json]
                                           check Falco Talon response rules files
  peregrine response list [--status S] [--rule R] [--actionner A] [--limit N] [--json] [-c FILE | --storage DIR]
                                           the actions recorded, newest first
  peregrine help [COMMAND [SUB]]           this text, or one command's usage (as COMMAND --help)
  peregrine version | --version

exit codes: 0 ok, 1 invalid input (config, rules), 2 usage or missing prerequisite, 3 runtime failure
config: -c FILE, default ./peregrine.yaml, built-in defaults when absent; see docs/configuration.md
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./cli/run.js")).runCommandWithExtensions(true),
  router: async () => (await import("./cli/run.js")).runCommandWithExtensions(false),
  config: async () => (await import("./cli/config.js")).configCommand,
  dlq: async () => (await import("./cli/dlq.js")).dlqCommand,
  response: async () => (await import("./cli/response.js")).responseCommand,
  rules: async () => (await import("./cli/rules.js")).runRulesCommand,
  detect: async () => (await import("./cli/detect.js")).detectCommand,
};

/** The lines of HELP for `peregrine NAME [SUB]` (with their wrapped descriptions) and the footer. */
function commandUsage(name: string, sub: string | undefined): string {
  const lines = HELP.split("\n");
  const pick = (prefix: string): string[] => {
    const out: string[] = [];
    lines.forEach((l, i) => {
      if (l.startsWith(prefix)) out.push(l);
      // a description continuing on the next line
      else if (/^ {20,}\S/.test(l) && lines[i - 1]!.startsWith(prefix)) out.push(l);
    });
    return out;
  };
  const own = sub && !sub.startsWith("-") ? pick(`  peregrine ${name} ${sub} `) : [];
  const chosen = own.length > 0 ? own : pick(`  peregrine ${name} `);
  const footer = lines.filter((l) => l.startsWith("exit codes:") || l.startsWith("config:"));
  return `usage:\n${chosen.join("\n")}\n\n${footer.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // `peregrine help COMMAND [SUB]` is `peregrine COMMAND [SUB] --help`.
  if (name === "help" && rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) return main([...rest, "--help"]);
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if ((name === "--version" || name === "version") && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(commandUsage("version", undefined));
    return EXIT.OK;
  }
  if (name === "--version" || name === "version") {
    process.stdout.write("peregrine 0.1.0\n");
    return EXIT.OK;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const names = [...Object.keys(COMMANDS), "help", "version"];
    process.stderr.write(`error: unknown command "${name}"${didYouMean(name, names)}; commands: ${names.join(", ")} (peregrine --help for their usage)\n`);
    return EXIT.USAGE;
  }
  // --help anywhere answers with the usage of the command, or of its subcommand when one is
  // named, before any flag is parsed (an unknown-option error would hide it). rules has a
  // longer usage of its own.
  if ((rest.includes("--help") || rest.includes("-h")) && name !== "rules") {
    process.stdout.write(commandUsage(name, rest[0]));
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

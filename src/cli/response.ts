/**
 * `peregrine response validate -r FILE... [--json]`: checks Falco Talon rules files against this
 * build's actionners, every problem at its file:line:column.
 * `peregrine response list [...]`: the action journal (response.db beside the journal).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { actionnerRegistry } from "../response/actionners/index.js";
import { rulesCheck } from "../response/index.js";
import { formatRulesMessage, loadResponseRules } from "../response/rules.js";
import { ActionStore, STORE_FILE, type ActionRecord } from "../response/store.js";
import { EXIT, loadConfigOrReport } from "./common.js";

const USAGE =
  "usage: peregrine response validate -r FILE... [--json]\n" +
  "       peregrine response list [--status S] [--rule R] [--actionner A] [--alert UUID] [--limit N] [--json] [-c FILE | --storage DIR]\n";

export async function responseCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "validate") return validate(rest);
  if (sub === "list") return list(rest);
  process.stderr.write(`${sub === undefined ? "error: missing subcommand" : `error: unknown subcommand "${sub}"`}\n${USAGE}`);
  return EXIT.USAGE;
}

function validate(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { rules: { type: "string", short: "r", multiple: true }, json: { type: "boolean" } }, strict: true });
  const files = values.rules ?? [];
  if (files.length === 0) {
    process.stderr.write(`error: at least one -r FILE is required\n${USAGE}`);
    return EXIT.USAGE;
  }
  const set = loadResponseRules(files, rulesCheck(actionnerRegistry()));
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          files,
          successful: set.errors.length === 0,
          rules: set.rules.map((r) => ({ name: r.name, dry_run: r.dryRun, actions: r.actions.map((a) => ({ name: a.name, actionner: a.actionner, parameters: a.parameters, ...(a.output ? { output: a.output } : {}) })) })),
          errors: set.errors,
          warnings: set.warnings,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    for (const m of [...set.errors, ...set.warnings]) process.stderr.write(`${formatRulesMessage(m)}\n`);
    const actions = set.rules.reduce((n, r) => n + r.actions.length, 0);
    if (set.errors.length === 0) process.stdout.write(`${files.join(", ")}: ok: ${set.rules.length} rule(s), ${actions} action(s)${set.warnings.length ? `, ${set.warnings.length} warning(s)` : ""}\n`);
    else process.stdout.write(`${files.join(", ")}: ${set.errors.length} error(s), ${set.warnings.length} warning(s)\n`);
  }
  return set.errors.length === 0 ? EXIT.OK : EXIT.INVALID;
}

function list(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      storage: { type: "string" },
      status: { type: "string" },
      rule: { type: "string" },
      actionner: { type: "string" },
      alert: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    process.stderr.write(`error: --limit must be a positive integer, got "${values.limit}"\n`);
    return EXIT.USAGE;
  }
  let dir = values.storage;
  if (dir === undefined) {
    const config = loadConfigOrReport(values.config);
    if (!config) return EXIT.INVALID;
    dir = config.storage.path;
  }
  if (!existsSync(join(dir, STORE_FILE))) {
    if (values.json) process.stdout.write(`${JSON.stringify({ actions: [], counts: {} })}\n`);
    else process.stdout.write(`no actions recorded (no ${STORE_FILE} in ${dir})\n`);
    return EXIT.OK;
  }
  const store = new ActionStore(dir, { readonly: true });
  try {
    const filter = { limit, ...(values.status ? { status: values.status } : {}), ...(values.rule ? { rule: values.rule } : {}), ...(values.actionner ? { actionner: values.actionner } : {}), ...(values.alert ? { alert: values.alert } : {}) };
    const actions = store.list(filter);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ actions, counts: store.counts() })}\n`);
      return EXIT.OK;
    }
    if (actions.length === 0) process.stdout.write("no actions recorded\n");
    for (const a of actions) process.stdout.write(`${line(a)}\n`);
    return EXIT.OK;
  } finally {
    store.close();
  }
}

function line(a: ActionRecord): string {
  const at = new Date(a.finished_at ?? a.started_at ?? a.created_at).toISOString();
  const target = a.target ? ` ${a.target.description}` : "";
  return `${at} ${a.status.padEnd(12)} ${a.actionner}${target} · rule "${a.rule}" · action "${a.action}" · alert ${a.alert_uuid} (${a.alert_rule})${a.code ? ` [${a.code}]` : ""}: ${a.message}`;
}

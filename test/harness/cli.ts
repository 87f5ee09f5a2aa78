/**
 * npm run services -- up|down|status|restart|env [NAME...]
 * `env` prints one KEY=VALUE line per variable a client of the services needs (for `eval`).
 * Provisions (cached), starts and stops the real services the integration tests use.
 */
import { SERVICE_NAMES, down, restart, serviceDef, status, up } from "./services.js";
import { logFile } from "./proc.js";

const USAGE = `usage: npm run services -- up|down|status|restart|env [NAME...]
services: ${SERVICE_NAMES.join(", ")}
(default: all; for up and restart, all but the on-demand ones: ${SERVICE_NAMES.filter((n) => serviceDef(n).onDemand).join(", ")})`;

function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  // `up` and `restart` without names leave out the on-demand services (root, long first builds)
  const defaults = command === "up" || command === "restart" ? SERVICE_NAMES.filter((n) => !serviceDef(n).onDemand) : SERVICE_NAMES;
  const names = rest.length > 0 ? rest : defaults;
  for (const n of names) serviceDef(n); // unknown names fail before anything starts
  if (command === "env") {
    for (const n of names) for (const [k, v] of Object.entries(serviceDef(n).env?.() ?? {})) console.log(`${k}=${shellQuote(v)}`);
    return 0;
  }
  const t0 = Date.now();
  switch (command) {
    case "up":
      await up(names);
      break;
    case "down":
      await down(names);
      break;
    case "restart":
      for (const n of names) await restart(n);
      break;
    case "status":
      break;
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
  for (const n of names) {
    const s = await status(n);
    const pid = s.pid === undefined ? "" : ` pid ${s.pid}`;
    const log = s.state === "running" ? `  log: ${logFile(n)}` : "";
    console.log(`${n.padEnd(18)} ${s.state.padEnd(8)}${pid.padEnd(12)} ${s.summary}${log}`);
  }
  if (command !== "status") console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);

import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { SqliteJournal } from "../delivery/journal.js";
import type { Config } from "../config/index.js";
import { EXIT, loadConfigOrReport } from "./common.js";

const USAGE =
  "usage: peregrine dlq list [--output NAME] [--limit N] [--json] [-c FILE | --storage DIR]\n       peregrine dlq replay [--output NAME] [--id N]... [-c FILE]\n";

/**
 * The dead-letter store. `replay` asks a running router through its API (so its lanes
 * pick the alerts up at once); when none answers it writes the journal directly and the
 * next start delivers them.
 */
export async function dlqCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "list" && sub !== "replay") {
    process.stderr.write(`${sub === undefined ? "error: missing subcommand" : `error: unknown subcommand "${sub}"`}\n${USAGE}`);
    return EXIT.USAGE;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: "string", short: "c" },
      output: { type: "string", short: "o" },
      id: { type: "string", multiple: true },
      limit: { type: "string" },
      json: { type: "boolean" },
      storage: { type: "string" },
    },
    strict: true,
  });
  const limit = values.limit === undefined ? 1000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    process.stderr.write(`error: --limit must be a positive integer, got "${values.limit}"\n`);
    return EXIT.USAGE;
  }
  if (values.storage !== undefined) {
    if (sub !== "list") {
      process.stderr.write("error: --storage is for dlq list; replay needs the config (to reach the running router)\n");
      return EXIT.USAGE;
    }
    return listWithoutConfig(values.storage, values.output, limit, values.json === true);
  }
  const config = loadConfigOrReport(values.config);
  if (!config) {
    if (sub === "list") process.stderr.write("hint: peregrine dlq list --storage DIR reads the journal without the config\n");
    return EXIT.INVALID;
  }
  // the response engine's lane is not in outputs: but its dead letters are actions that failed
  const responseLane = config.response?.enabled === true && values.output === "response";
  if (values.output !== undefined && !responseLane && !config.outputs.some((o) => o.name === values.output)) {
    process.stderr.write(`error: --output: no output named "${values.output}" in ${config.source} (known: ${config.outputs.map((o) => o.name).join(", ")})\n`);
    return EXIT.USAGE;
  }
  const badId = (values.id ?? []).find((v) => !/^\s*\d+\s*$/.test(v));
  if (badId !== undefined) {
    process.stderr.write(`error: --id must be a dead letter's number, got "${badId}"\n`);
    return EXIT.USAGE;
  }
  const ids = (values.id ?? []).map(Number);

  let unreachable: string | undefined;
  if (sub === "replay") {
    const viaApi = await replayViaApi(config, values.output, ids);
    if (viaApi.kind === "replayed") {
      process.stdout.write(`replayed ${viaApi.count} dead letter(s) through the running router\n`);
      return EXIT.OK;
    }
    // A router answered but refused (a wrong token, another config): writing its journal behind
    // its back would leave the alerts undelivered until its next start, so say why and stop.
    if (viaApi.kind === "refused") {
      process.stderr.write(`error: the router at ${viaApi.url} refused the replay: ${viaApi.reason}; nothing replayed\n`);
      return EXIT.RUNTIME;
    }
    unreachable = viaApi.url;
  }
  const journal = new SqliteJournal({ dir: config.storage.path, maxBytes: config.storage.max_bytes, fsync: true });
  try {
    if (sub === "list") {
      printDeadLetters(journal, values.output, limit, values.json === true);
      return EXIT.OK;
    }
    const filter: { output?: string; ids?: number[] } = {};
    if (values.output !== undefined) filter.output = values.output;
    if (ids.length > 0) filter.ids = ids;
    const n = journal.replayDeadLetters(filter);
    process.stdout.write(`no router answered at ${unreachable}; replayed ${n} dead letter(s) in the journal; the router delivers them at its next start\n`);
    return EXIT.OK;
  } finally {
    journal.close();
  }
}

type ApiReplay = { kind: "replayed"; count: number } | { kind: "refused"; url: string; reason: string } | { kind: "unreachable"; url: string };

async function replayViaApi(config: Config, output: string | undefined, ids: number[]): Promise<ApiReplay> {
  const address = config.listen.address === "0.0.0.0" || config.listen.address === "::" ? "127.0.0.1" : config.listen.address;
  const host = address.includes(":") ? `[${address}]` : address;
  const tls = config.listen.tls;
  const base = `${tls.cert === undefined ? "http" : "https"}://${host}:${config.listen.port}`;
  if (tls.client_ca !== undefined)
    return {
      kind: "refused",
      url: base,
      reason:
        "the router asks every client for a certificate (listen.tls.client_ca) and this command holds none; " +
        "POST /api/dead-letters/replay with a client certificate, or stop the router and replay again (the journal is then written directly)",
    };
  let dispatcher: Agent | undefined;
  if (tls.cert !== undefined) {
    // The router serves the certificate this config names: trust exactly that one, whatever
    // CA signed it and whatever names it carries (the address here may be 127.0.0.1).
    let pinned: string;
    try {
      pinned = new X509Certificate(readFileSync(tls.cert)).fingerprint256;
    } catch {
      return { kind: "refused", url: base, reason: `cannot read listen.tls.cert (${tls.cert}) to recognise the router` };
    }
    dispatcher = new Agent({
      connect: (opts, callback) => {
        const socket = connectTls({ host: opts.hostname, port: Number(opts.port), rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
        socket.once("secureConnect", () => {
          if (socket.getPeerX509Certificate()?.fingerprint256 === pinned) callback(null, socket);
          else {
            socket.destroy();
            callback(new Error("the server's certificate is not listen.tls.cert"), null);
          }
        });
        socket.once("error", (err) => callback(err, null));
      },
    });
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = config.ingest.auth.tokens[0];
  if (token) headers.authorization = `Bearer ${token}`;
  const body: Record<string, unknown> = {};
  if (output !== undefined) body.output = output;
  if (ids.length > 0) body.ids = ids;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(`${base}/api/dead-letters/replay`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      headersTimeout: 5000,
      bodyTimeout: 5000,
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch {
    void dispatcher?.close();
    return { kind: "unreachable", url: base };
  }
  const text = await res.body.text().catch(() => "");
  void dispatcher?.close();
  // Something else on that port (no such route): not a router, so the journal is written instead.
  if (res.statusCode === 404) return { kind: "unreachable", url: base };
  let json: { replayed?: unknown; error?: { message?: unknown } } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // not our API's JSON: reported below with the status
  }
  if (res.statusCode === 200 && typeof json.replayed === "number") return { kind: "replayed", count: json.replayed };
  const message = typeof json.error?.message === "string" ? json.error.message : text.trim().slice(0, 200);
  return { kind: "refused", url: base, reason: `HTTP ${res.statusCode}${message ? `: ${message}` : ""}` };
}

function printDeadLetters(journal: SqliteJournal, output: string | undefined, limit: number, json: boolean): void {
  const letters = journal.listDeadLetters(output === undefined ? { limit } : { output, limit });
  if (json) {
    process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
    return;
  }
  for (const d of letters)
    process.stdout.write(
      `#${d.id}  ${new Date(d.failedAt).toISOString()}  ${d.output}  ${d.alert.priority}  ${d.alert.rule}  status=${d.status ?? "-"} attempts=${d.attempts}  ${d.reason}\n`,
    );
  process.stdout.write(`${letters.length} dead letter(s)${output ? ` for ${output}` : ""}\n`);
}

/**
 * `dlq list --storage DIR`: the journal alone, without reading the config, so the secrets a
 * config references (${ENV}, ${file:}) need not be at hand just to look at dead letters.
 */
function listWithoutConfig(dir: string, output: string | undefined, limit: number, json: boolean): number {
  const file = join(dir, "journal.db");
  if (!existsSync(file)) {
    process.stderr.write(`error: --storage: no journal in ${dir} (expected ${file})\n`);
    return EXIT.INVALID;
  }
  // No quota applies: listing writes nothing.
  const journal = new SqliteJournal({ dir, maxBytes: Number.MAX_SAFE_INTEGER, fsync: false });
  try {
    printDeadLetters(journal, output, limit, json);
    return EXIT.OK;
  } finally {
    journal.close();
  }
}


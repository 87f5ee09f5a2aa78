/**
 * `peregrine config import-sidekick FILE`: reads a Falcosidekick config.yaml plus the
 * environment variables Falcosidekick would read (SLACK_WEBHOOKURL, LOKI_HOSTPORT, ...; they
 * win over the file, as in Falcosidekick) and prints the equivalent Peregrine YAML, then a
 * list of every setting it could not translate and why. The mapping is in
 * docs/sidekick-migration.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LineCounter, parseDocument, stringify, visit } from "yaml";
import { compileFieldTemplate } from "../enrich/templated.js";
import { errorMessage } from "../errors.js";
import { EXIT } from "./common.js";
import { isLoopback } from "../config/listen.js";
import { createSidekickContext, type ImportNote, type SidekickContext, type Tree } from "../../outputs/sidekick-context.js";
import { SIDEKICK_TRANSLATORS } from "../../outputs/sidekick-registry.js";

export type { ImportNote };

export interface ImportResult {
  config: Record<string, unknown>;
  notes: ImportNote[];
  /** Translated, but worth a look before use (e.g. a credential written out in clear). */
  warnings?: string[];
}

const USAGE = "usage: peregrine config import-sidekick FILE [-o OUT.yaml] [--ignore-env]\n";

export async function importSidekickCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { output: { type: "string", short: "o" }, "ignore-env": { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`error: ${errorMessage(err)}\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return EXIT.OK;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`error: expected one Falcosidekick config file\n${USAGE}`);
    return EXIT.USAGE;
  }
  const file = parsed.positionals[0]!;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`error: cannot read ${file}${code ? ` (${code})` : ""}\n`);
    return EXIT.INVALID;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    process.stderr.write(`error: ${file}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split("\n")[0]}\n`);
    return EXIT.INVALID;
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    // An alias whose anchor is not set before it, or an alias bomb: point at that alias, else the first.
    let first: number | undefined;
    let unresolved: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        first ??= node.range?.[0];
        if (node.resolve(doc) !== undefined) return undefined;
        unresolved = node.range?.[0];
        return visit.BREAK;
      },
    });
    const pos = lineCounter.linePos(unresolved ?? first ?? 0);
    process.stderr.write(`error: ${file}:${pos.line}:${pos.col}: invalid YAML: ${errorMessage(err).split("\n")[0]}\n`);
    return EXIT.INVALID;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    process.stderr.write(`error: ${file}: a Falcosidekick config is a YAML map of settings\n`);
    return EXIT.INVALID;
  }
  const result = translateSidekick(raw as Tree, parsed.values["ignore-env"] ? {} : process.env);
  const yaml = renderImport(result, file);
  if (parsed.values.output !== undefined) {
    try {
      writeFileSync(parsed.values.output, yaml);
    } catch (err) {
      process.stderr.write(`error: cannot write ${parsed.values.output}: ${errorMessage(err)}\n`);
      return EXIT.RUNTIME;
    }
  } else process.stdout.write(yaml);
  const outputs = (result.config.outputs as unknown[] | undefined)?.length ?? 0;
  process.stderr.write(
    `${outputs} output${outputs === 1 ? "" : "s"} translated; ${result.notes.length} setting${result.notes.length === 1 ? "" : "s"} not translated${result.notes.length > 0 ? ":" : ""}\n`,
  );
  for (const n of result.notes) process.stderr.write(`  - ${n.setting}: ${n.reason}\n`);
  for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  return EXIT.OK;
}

/** The YAML, with the untranslated settings as comments at the end (they stay with the file). */
export function renderImport(result: ImportResult, source: string): string {
  const head = `# Peregrine configuration translated from the Falcosidekick config ${source}\n# by \`peregrine config import-sidekick\`. Check it with \`peregrine config check -c FILE\`.\n`;
  let tail = "";
  for (const w of result.warnings ?? []) tail += `\n# Warning: ${w.replace(/\n/g, " ")}`;
  if (tail !== "") tail += "\n";
  if (result.notes.length > 0) {
    // appended: the warnings above must stay in the file too
    tail += "\n# Not translated:\n";
    for (const n of result.notes) tail += `#   ${n.setting}: ${n.reason.replace(/\n/g, " ")}\n`;
  }
  return `${head}${stringify(result.config, { lineWidth: 0 })}${tail}`;
}

/** Falcosidekick's settings translated here besides the outputs' sections. */
const GLOBAL_SECTIONS = ["listenaddress", "listenport", "customfields", "customtags", "templatedfields", "mutualtlsfilespath", "mutualtlsclient", "tlsclient"];

/** Settings that have no effect on where alerts go, and why Peregrine has no counterpart. */
const GLOBAL_NOTES: Record<string, string> = {
  debug: "Peregrine logs each output's sends at log.level: debug",
  tlsserver: "Peregrine's HTTP API has no TLS listener; put a TLS-terminating proxy in front of it",
  bracketreplacer: "Peregrine keeps field names as Falco sends them",
  outputfieldformat: "Peregrine keeps Falco's output line; shape messages with the outputs' templates",
  prometheus: "Peregrine's /metrics has its own metric names (peregrine_*), not configurable labels",
};

/** Keys whose non-empty value turns a Falcosidekick output on. */
const ENABLING_KEYS = ["hostport", "webhookurl", "address", "apikey", "url", "bucket", "topicarn", "functionname", "function", "routingkey", "receiverurl", "forwarder", "loggroup", "projectid", "topic", "chatid", "token", "streamname", "apiurl", "eventlistener"];

/** Falcosidekick outputs with no Peregrine counterpart (env-only configs are found by these names). */
const OTHER_OUTPUTS = [
  "datadoglogs", "elasticsearch", "quickwit", "influxdb", "sumologic",
  "stan", "nats", "cliq", "kafkarest", "kubeless", "openfaas", "fission", "webui",
  "grafana", "grafanaoncall", "redis", "openobserve", "smtp", "statsd", "dogstatsd", "nodered", "policyreport", "rabbitmq",
  "wavefront", "syslog", "mqtt", "zincsearch", "gotify", "tekton", "spyderbat", "timescaledb", "dynatrace", "talon", "logstash",
  "n8n", "aws.lambda", "aws.sqs", "aws.sns", "aws.cloudwatchlogs", "aws.kinesis", "aws.securitylake", "gcp.pubsub", "gcp.storage",
  "gcp.cloudfunctions", "gcp.cloudrun", "azure.eventhub", "yandex.s3", "yandex.datastreams", "yandex.cloudlogging", "otlp.traces", "otlp.logs", "otlp.metrics",
];

/** Translates a Falcosidekick config (keys in any case) and environment into a Peregrine config object. */
export function translateSidekick(rawConfig: Tree, env: NodeJS.ProcessEnv): ImportResult {
  const { ctx, tree, notes, warnings } = createSidekickContext(rawConfig, env);
  const config: Tree = {};
  const listen = translateListen(ctx);
  if (listen) config.listen = listen;
  const enrich = translateEnrich(ctx);
  if (enrich) config.enrich = enrich;
  const outputs = Object.values(SIDEKICK_TRANSLATORS).flatMap((t) => t.translate(ctx));
  if (outputs.length > 0) config.outputs = outputs;
  else {
    config.outputs = [{ name: "stdout", type: "stdout" }];
    ctx.note("outputs", "no translatable output is configured; the stdout output stands in");
  }
  noteUntranslated(ctx, tree);
  return { config, notes, warnings };
}

/** `listenaddress` and `listenport` become `listen`. */
function translateListen(ctx: SidekickContext): Tree | undefined {
  const address = ctx.str("listenaddress");
  const port = ctx.str("listenport");
  if (address === "" && (port === "" || port === "2801")) return undefined;
  const listen: Tree = {};
  if (address !== "") listen.address = address;
  if (address !== "" && !isLoopback(address)) {
    // Sidekick took alerts from the network with no token; Peregrine refuses that unless told.
    listen.allow_insecure = true;
    ctx.warn(
      `listenaddress ${address} reaches beyond this host and Falcosidekick asked no token: listen.allow_insecure: true keeps that; set ingest.auth.tokens or listen.tls.client_ca and remove it`,
    );
  }
  if (port !== "") {
    const n = Number(port);
    if (Number.isInteger(n) && n > 0 && n < 65536) listen.port = n;
    else ctx.note("listenport", `"${port}" is not a port number`);
  }
  return listen;
}

/** `customfields`, `customtags` and `templatedfields` become `enrich`. */
function translateEnrich(ctx: SidekickContext): Tree | undefined {
  const enrich: Tree = {};
  const customFields: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.map("customfields"))) {
    // Falcosidekick reads "%VAR" from the environment; Peregrine's ${VAR} does the same at load.
    customFields[k] = v.startsWith("%") ? `\${${v.slice(1)}}` : v;
  }
  if (Object.keys(customFields).length > 0) enrich.custom_fields = customFields;
  const tags = ctx.list("customtags");
  if (tags.length > 0) enrich.custom_tags = tags;
  const templated: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.map("templatedfields"))) {
    try {
      compileFieldTemplate(v, `templatedfields.${k}`);
      templated[k] = v;
    } catch (err) {
      ctx.note(`templatedfields.${k}`, `this Go template has no Handlebars equivalent here (${errorMessage(err)}); rewrite it (docs/enrich.md)`);
    }
  }
  if (Object.keys(templated).length > 0) enrich.templated_fields = templated;
  return Object.keys(enrich).length > 0 ? enrich : undefined;
}

/** Notes the global settings without a counterpart, the outputs Peregrine lacks and the unknown keys. */
function noteUntranslated(ctx: SidekickContext, tree: Tree): void {
  for (const [key, reason] of Object.entries(GLOBAL_NOTES)) {
    const v = ctx.get(key).value;
    if (v !== undefined && v !== null && v !== false && v !== "" && !(typeof v === "object" && Object.values(v as Tree).every((x) => x === false || x === "" || x === null)))
      ctx.note(key, reason);
  }
  // A section whose output type now exists is its translator's, not a missing output.
  const ownSections = new Set(Object.values(SIDEKICK_TRANSLATORS).flatMap((t) => t.sections));
  for (const section of OTHER_OUTPUTS.filter((s) => !ownSections.has(s))) {
    const on = ENABLING_KEYS.find((k) => ctx.str(`${section}.${k}`) !== "") ?? (ctx.bool(`${section}.enabled`, false) ? "enabled" : undefined);
    if (on) ctx.note(section, `is configured (${section}.${on}); Peregrine has no ${section} output (a webhook output may reach it)`);
  }
  const translated = new Set([...GLOBAL_SECTIONS, ...Object.values(SIDEKICK_TRANSLATORS).flatMap((t) => t.sections)]);
  for (const key of Object.keys(tree)) {
    if (translated.has(key) || key in GLOBAL_NOTES || OTHER_OUTPUTS.some((s) => s === key || s.startsWith(`${key}.`))) continue;
    ctx.note(key, "unknown Falcosidekick setting");
  }
}

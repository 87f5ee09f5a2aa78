/**
 * `peregrine config import-sidekick FILE`: reads a Falcosidekick config.yaml plus the
 * environment variables Falcosidekick would read (SLACK_WEBHOOKURL, LOKI_HOSTPORT, ...; they
 * win over the file, as in Falcosidekick) and prints the equivalent Peregrine YAML, then a
 * list of every setting it could not translate and why. The mapping is in
 * docs/sidekick-migration.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LineCounter, parseDocument, stringify, visit } from "yaml";
import { parsePriority } from "../alert.js";
import { compileFieldTemplate } from "../enrich/templated.js";
import { errorMessage } from "../errors.js";
import { EXIT } from "./common.js";
import { isLoopback } from "../config/listen.js";

/** A setting left out of the translation, with the reason. */
export interface ImportNote {
  setting: string;
  reason: string;
}

export interface ImportResult {
  config: Record<string, unknown>;
  notes: ImportNote[];
  /** Translated, but worth a look before use (e.g. a credential written out in clear). */
  warnings?: string[];
}

type Tree = Record<string, unknown>;

/** A value looked up the way Falcosidekick's Viper does: the env var when set, else the file. */
interface Found {
  value: unknown;
  /** The environment variable it came from, if any. */
  env?: string;
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

/** Header names that usually carry a credential. */
const CREDENTIAL_HEADER = /authorization|token|secret|password|api[-_]?key|cookie/i;

/** Sections translated here; any other configured section is reported. */
const TRANSLATED = new Set(["listenaddress", "listenport", "customfields", "customtags", "templatedfields", "slack", "loki", "kafka", "aws", "webhook", "alertmanager", "teams", "discord", "mattermost", "googlechat", "rocketchat", "telegram", "webex", "pagerduty", "cloudevents", "opsgenie", "datadog", "splunk", "mutualtlsfilespath", "mutualtlsclient", "tlsclient"]);

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

function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (v !== null && typeof v === "object") {
    const out: Tree = {};
    for (const [k, x] of Object.entries(v)) out[k.toLowerCase()] = lowerKeys(x);
    return out;
  }
  return v;
}

function envNameOf(path: string): string {
  return path.toUpperCase().replace(/\./g, "_");
}

/** Translates a Falcosidekick config (keys in any case) and environment into a Peregrine config object. */
export function translateSidekick(rawConfig: Tree, env: NodeJS.ProcessEnv): ImportResult {
  const tree = lowerKeys(rawConfig) as Tree;
  const notes: ImportNote[] = [];
  const note = (setting: string, reason: string) => notes.push({ setting, reason });
  const warnings: string[] = [];

  function fileValue(path: string): unknown {
    let cur: unknown = tree;
    for (const part of path.split(".")) {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
      cur = (cur as Tree)[part];
    }
    return cur;
  }
  /** Viper's AutomaticEnv: a non-empty SECTION_KEY variable wins over the file. */
  function get(path: string): Found {
    const name = envNameOf(path);
    const e = env[name];
    if (e !== undefined && e !== "") return { value: e, env: name };
    return { value: fileValue(path) };
  }
  function str(path: string, fallback = ""): string {
    const v = get(path).value;
    if (v === undefined || v === null) return fallback;
    return typeof v === "string" ? v.trim() : String(v);
  }
  /** A secret keeps its `${VAR}` reference when it came from the environment, so it is never printed. */
  function secret(path: string): string {
    const f = get(path);
    if (f.env) return `\${${f.env}}`;
    return f.value === undefined || f.value === null ? "" : String(f.value);
  }
  function bool(path: string, fallback: boolean): boolean {
    const v = get(path).value;
    if (typeof v === "boolean") return v;
    if (typeof v === "string" && v !== "") return /^(true|1|yes|on)$/i.test(v.trim());
    return fallback;
  }
  /** A map setting: a YAML map, or "k:v,k2:v2" from the environment (Falcosidekick's format). */
  function map(path: string): Record<string, string> {
    const f = get(path);
    const out: Record<string, string> = {};
    if (typeof f.value === "string") {
      for (const pair of f.value.split(",")) {
        const i = pair.indexOf(":");
        if (i <= 0) {
          if (pair.trim() !== "") note(f.env ?? path, `"${pair.trim()}" is not key:value; left out`);
          continue;
        }
        out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
      }
      // One variable holds every header, so a header cannot become a ${VAR} reference of its own.
      const credentials = Object.keys(out).filter((h) => CREDENTIAL_HEADER.test(h));
      if (f.env && path.endsWith("customheaders") && credentials.length > 0)
        warnings.push(
          `${f.env}: the ${credentials.join(", ")} header${credentials.length === 1 ? " is" : "s are"} written in clear; replace the value with a \${VAR} reference before sharing the file`,
        );
    } else if (f.value !== null && typeof f.value === "object" && !Array.isArray(f.value)) {
      // Map keys keep the case the user wrote (header names, label names): read them from the raw file.
      const rawMap = rawAt(rawConfig, path);
      for (const [k, v] of Object.entries(rawMap ?? (f.value as Tree))) if (v !== null && v !== undefined) out[k] = String(v);
    }
    return out;
  }
  /** A list setting: a YAML list, or a comma-separated string. */
  function list(path: string): string[] {
    const v = get(path).value;
    if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter((x) => x !== "");
    if (typeof v === "string") return v.split(",").map((x) => x.trim()).filter((x) => x !== "");
    return [];
  }
  function priority(path: string): string | undefined {
    const p = str(`${path}.minimumpriority`);
    if (p === "") return undefined;
    const parsed = parsePriority(p);
    if (!parsed) {
      note(`${path}.minimumpriority`, `unknown priority "${p}"; the output gets every alert`);
      return undefined;
    }
    return parsed.toLowerCase();
  }
  function tls(path: string): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    if (bool(`${path}.mutualtls`, false)) {
      const dir = str("mutualtlsfilespath", "/etc/certs");
      out.cert_file = str("mutualtlsclient.certfile") || join(dir, "client.crt");
      out.key_file = str("mutualtlsclient.keyfile") || join(dir, "client.key");
      out.ca_file = str("mutualtlsclient.cacertfile") || join(dir, "ca.crt");
    } else {
      const ca = str("tlsclient.cacertfile");
      if (ca !== "") out.ca_file = ca;
      if (!bool(`${path}.checkcert`, true)) out.insecure_skip_verify = true;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  function common(path: string, name: string, type: string): Record<string, unknown> {
    const o: Record<string, unknown> = { name, type };
    const p = priority(path);
    if (p) o.minimum_priority = p;
    const concurrency = Number(str(`${path}.maxconcurrentrequests`, "1"));
    if (Number.isInteger(concurrency) && concurrency > 1) o.concurrency = Math.min(concurrency, 256);
    return o;
  }
  function leftOut(path: string, keys: Record<string, string>): void {
    for (const [key, reason] of Object.entries(keys)) {
      const v = get(`${path}.${key}`).value;
      if (v !== undefined && v !== null && v !== "" && v !== false && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && Object.keys(v).length === 0))
        note(`${path}.${key}`, reason);
    }
  }

  const config: Tree = {};
  const outputs: Tree[] = [];

  // listen
  const address = str("listenaddress");
  const port = str("listenport");
  if (address !== "" || (port !== "" && port !== "2801")) {
    const listen: Tree = {};
    if (address !== "") listen.address = address;
    if (address !== "" && !isLoopback(address)) {
      // Sidekick took alerts from the network with no token; Peregrine refuses that unless told.
      listen.allow_insecure = true;
      warnings.push(
        `listenaddress ${address} reaches beyond this host and Falcosidekick asked no token: listen.allow_insecure: true keeps that; set ingest.auth.tokens or listen.tls.client_ca and remove it`,
      );
    }
    if (port !== "") {
      const n = Number(port);
      if (Number.isInteger(n) && n > 0 && n < 65536) listen.port = n;
      else note("listenport", `"${port}" is not a port number`);
    }
    config.listen = listen;
  }

  // enrichment
  const enrich: Tree = {};
  const customFields: Record<string, string> = {};
  for (const [k, v] of Object.entries(map("customfields"))) {
    // Falcosidekick reads "%VAR" from the environment; Peregrine's ${VAR} does the same at load.
    customFields[k] = v.startsWith("%") ? `\${${v.slice(1)}}` : v;
  }
  if (Object.keys(customFields).length > 0) enrich.custom_fields = customFields;
  const tags = list("customtags");
  if (tags.length > 0) enrich.custom_tags = tags;
  const templated: Record<string, string> = {};
  for (const [k, v] of Object.entries(map("templatedfields"))) {
    try {
      compileFieldTemplate(v, `templatedfields.${k}`);
      templated[k] = v;
    } catch (err) {
      note(`templatedfields.${k}`, `this Go template has no Handlebars equivalent here (${errorMessage(err)}); rewrite it (docs/enrich.md)`);
    }
  }
  if (Object.keys(templated).length > 0) enrich.templated_fields = templated;
  if (Object.keys(enrich).length > 0) config.enrich = enrich;

  // slack
  if (str("slack.webhookurl") !== "") {
    const o = common("slack", "slack", "slack");
    o.webhook_url = secret("slack.webhookurl");
    const channel = str("slack.channel");
    if (channel !== "") o.channel = channel;
    const username = str("slack.username");
    if (username !== "" && username !== "Falcosidekick") o.username = username;
    const icon = str("slack.icon");
    if (icon !== "" && !icon.includes("falcosidekick")) o.icon = icon;
    const format = str("slack.outputformat", "all").toLowerCase();
    if (["all", "text", "fields"].includes(format)) o.format = format;
    else note("slack.outputformat", `"${format}" is not all, text or fields`);
    leftOut("slack", {
      messageformat: "a Go template; Peregrine's Slack message is a Handlebars template_file (templates/slack.hbs, docs/templates.md)",
      footer: "the shipped Slack template has no footer; copy templates/slack.hbs and add one",
    });
    const t = tls("slack");
    if (t) note("slack.checkcert", "Slack's certificates are always checked");
    outputs.push(o);
  }

  // loki
  if (str("loki.hostport") !== "") {
    const o = common("loki", "loki", "loki");
    const host = str("loki.hostport").replace(/\/+$/, "");
    const endpoint = str("loki.endpoint", "/loki/api/v1/push");
    if (endpoint === "/loki/api/v1/push") o.url = host;
    else if (endpoint.endsWith("/loki/api/v1/push")) o.url = host + endpoint.slice(0, -"/loki/api/v1/push".length);
    else {
      o.url = host;
      note("loki.endpoint", `"${endpoint}" does not end in /loki/api/v1/push, which Peregrine appends to url; the default is used`);
    }
    const format = str("loki.format", "text").toLowerCase();
    if (format === "json" || format === "text") o.format = format;
    const user = str("loki.user");
    const apikey = secret("loki.apikey");
    if (user !== "") o.basic_auth = { username: user, password: apikey };
    else if (apikey !== "") o.bearer_token = apikey;
    const tenant = str("loki.tenant");
    if (tenant !== "") o.tenant = tenant;
    const labels = list("loki.extralabels");
    if (labels.length > 0) o.label_fields = labels;
    const headers = map("loki.customheaders");
    if (Object.keys(headers).length > 0) o.headers = headers;
    const t = tls("loki");
    if (t) o.tls = t;
    outputs.push(o);
  }

  // kafka
  if (str("kafka.hostport") !== "" && str("kafka.topic") !== "") {
    const o = common("kafka", "kafka", "kafka");
    o.brokers = list("kafka.hostport").map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
    o.topic = str("kafka.topic");
    const clientId = str("kafka.clientid");
    if (clientId !== "") o.client_id = clientId;
    const compression = str("kafka.compression", "NONE").toUpperCase();
    if (compression === "GZIP" || compression === "SNAPPY" || compression === "NONE") {
      if (compression !== "NONE") o.compression = compression.toLowerCase();
    } else note("kafka.compression", `${compression} is not supported by Peregrine's Kafka output (gzip, snappy, none); records are sent uncompressed`);
    const acks = str("kafka.requiredacks", "NONE").toUpperCase();
    // Peregrine waits for acks=all with an idempotent producer by default: at least as safe.
    if (acks === "ONE") {
      o.acks = "leader";
      o.idempotent = false;
    } else if (acks === "NONE") note("kafka.requiredacks", "NONE is not kept: Peregrine waits for acks=all so that no alert is lost (set acks: none to trade that away)");
    const sasl = str("kafka.sasl").toUpperCase();
    if (sasl !== "") {
      const mechanism = sasl === "PLAIN" ? "plain" : sasl === "SCRAM_SHA256" ? "scram-sha-256" : sasl === "SCRAM_SHA512" ? "scram-sha-512" : undefined;
      if (mechanism) o.sasl = { mechanism, username: str("kafka.username"), password: secret("kafka.password") };
      else note("kafka.sasl", `unknown SASL mode "${sasl}"`);
    }
    if (bool("kafka.tls", false)) o.tls = tls("kafka") ?? {};
    leftOut("kafka", {
      async: "Peregrine always waits for the broker's acknowledgement before an alert counts as delivered",
      topiccreation: "Peregrine does not create topics; create it with the broker's tools",
    });
    const balancer = str("kafka.balancer", "round_robin");
    if (balancer !== "round_robin") note("kafka.balancer", "Peregrine keys records by rule (key: '{{rule}}'), and Kafka's default partitioner places them");
    outputs.push(o);
  } else if (str("kafka.hostport") !== "" || str("kafka.topic") !== "") note("kafka", "needs both hostport and topic; not translated");

  // aws.s3
  if (str("aws.s3.bucket") !== "") {
    const o = common("aws.s3", "s3", "s3");
    o.bucket = str("aws.s3.bucket");
    o.prefix = str("aws.s3.prefix", "falco");
    const region = str("aws.region");
    if (region !== "") o.region = region;
    const endpoint = str("aws.s3.endpoint");
    if (endpoint !== "") {
      o.endpoint = endpoint;
      o.force_path_style = true;
    }
    const keyId = secret("aws.accesskeyid");
    if (keyId !== "") {
      o.access_key_id = keyId;
      o.secret_access_key = secret("aws.secretaccesskey");
    }
    leftOut("aws", {
      rolearn: "assume-role is not configured in the S3 output; use the AWS default credential chain (AWS_ROLE_ARN with web identity, or a profile)",
      externalid: "goes with rolearn",
    });
    const acl = str("aws.s3.objectcannedacl", "bucket-owner-full-control");
    if (acl !== "bucket-owner-full-control") note("aws.s3.objectcannedacl", "Peregrine writes objects without a canned ACL; use a bucket policy");
    note("aws.s3 (object layout)", "Falcosidekick writes one JSON object per alert; Peregrine writes batches as NDJSON (gzip) objects under the same prefix");
    outputs.push(o);
  }

  // webhook
  if (str("webhook.address") !== "") {
    const o = common("webhook", "webhook", "webhook");
    o.url = str("webhook.address");
    const method = str("webhook.method", "POST").toUpperCase();
    if (method === "POST" || method === "PUT") {
      if (method !== "POST") o.method = method;
    } else note("webhook.method", `${method} is not supported (POST or PUT)`);
    const headers = map("webhook.customheaders");
    if (Object.keys(headers).length > 0) o.headers = headers;
    const t = tls("webhook");
    if (t) o.tls = t;
    outputs.push(o);
  }

  // alertmanager: one output per Alertmanager, each with its own lane
  const amHosts = list("alertmanager.hostport");
  amHosts.forEach((host, i) => {
    const o = common("alertmanager", i === 0 ? "alertmanager" : `alertmanager-${i + 1}`, "alertmanager");
    o.url = host.replace(/\/+$/, "");
    const endpoint = str("alertmanager.endpoint", "/api/v2/alerts");
    if (endpoint === "/api/v1/alerts") {
      if (i === 0) note("alertmanager.endpoint", "API v1 was removed in Alertmanager 0.27; Peregrine posts to /api/v2/alerts");
    } else if (endpoint !== "/api/v2/alerts") o.endpoint = endpoint;
    const expires = Number(str("alertmanager.expiresafter", "0"));
    if (Number.isFinite(expires) && expires > 0) o.expires_after = `${expires}s`;
    const labels = map("alertmanager.extralabels");
    if (Object.keys(labels).length > 0) o.labels = labels;
    const annotations = map("alertmanager.extraannotations");
    if (Object.keys(annotations).length > 0) o.annotations = annotations;
    const severity = map("alertmanager.customseveritymap");
    if (Object.keys(severity).length > 0) o.severity_map = severity;
    const headers = map("alertmanager.customheaders");
    if (Object.keys(headers).length > 0) o.headers = headers;
    const t = tls("alertmanager");
    if (t) o.tls = t;
    outputs.push(o);
  });
  if (amHosts.length > 0) {
    const thresholds = str("alertmanager.dropeventthresholds");
    const dropPriority = str("alertmanager.dropeventdefaultpriority", "critical");
    if ((thresholds !== "" && !/^10000:critical[:,]\s*1000:critical[:,]\s*100:critical[:,]\s*10:warning[:,]\s*1:warning$/.test(thresholds)) || dropPriority.toLowerCase() !== "critical")
      note("alertmanager.dropeventthresholds", "the priority escalation of Falco's syscall-drop alerts is not reproduced; n_drop* fields arrive as labels unchanged");
  }

  // chat outputs: Falcosidekick's outputformat all/text/fields (Teams: facts) is Peregrine's format
  const chatFormat = (path: string, o: Record<string, unknown>) => {
    const f = str(`${path}.outputformat`, "all").toLowerCase();
    if (f === "all" || f === "text" || f === "fields") o.format = f;
    else if (f === "facts") o.format = "fields";
    else note(`${path}.outputformat`, `"${f}" is not all, text or fields`);
  };
  const chatLeftOut = (path: string) =>
    leftOut(path, {
      messageformat: "a Go template; Peregrine's chat messages show the output line, the fields and a digest of bursts",
      footer: "Peregrine's chat messages end with the alert's time and uuid",
    });
  for (const svc of ["teams", "discord", "mattermost", "googlechat", "rocketchat", "webex"]) {
    if (str(`${svc}.webhookurl`) === "") continue;
    const o = common(svc, svc, svc);
    o.webhook_url = secret(`${svc}.webhookurl`);
    if (svc !== "discord" && svc !== "webex") chatFormat(svc, o);
    const icon = str(`${svc}.icon`);
    if (icon !== "" && !icon.includes("falcosidekick") && (svc === "discord" || svc === "mattermost" || svc === "rocketchat")) o.icon = icon;
    const username = str(`${svc}.username`);
    if (username !== "" && username !== "Falcosidekick" && (svc === "mattermost" || svc === "rocketchat")) o.username = username;
    const image = str("teams.activityimage");
    if (svc === "teams" && image !== "" && !image.includes("falcosidekick")) o.activity_image = image;
    chatLeftOut(svc);
    if (svc === "mattermost" || svc === "rocketchat") {
      const t = tls(svc);
      if (t) o.tls = t;
    }
    outputs.push(o);
  }
  if (str("telegram.token") !== "" && str("telegram.chatid") !== "") {
    const o = common("telegram", "telegram", "telegram");
    o.token = secret("telegram.token");
    o.chat_id = str("telegram.chatid");
    leftOut("telegram", { messagethreadid: "Peregrine posts to the chat itself, not to a forum topic" });
    if (tls("telegram")) note("telegram.checkcert", "Telegram's certificates are always checked");
    outputs.push(o);
  } else if (str("telegram.token") !== "" || str("telegram.chatid") !== "") note("telegram", "needs both token and chatid; not translated");

  // cloudevents: Falcosidekick sends binary-mode events of type falco.rule.output.v1, as Peregrine does by default
  if (str("cloudevents.address") !== "") {
    const o = common("cloudevents", "cloudevents", "cloudevents");
    o.url = str("cloudevents.address");
    const extensions: Record<string, string> = {};
    for (const [k, v] of Object.entries(map("cloudevents.extension"))) {
      if (/^[a-z0-9]{1,20}$/.test(k)) extensions[k] = v;
      else note(`cloudevents.extension.${k}`, "an extension name is lower-case letters and digits, at most 20 characters (CloudEvents 1.0)");
    }
    if (Object.keys(extensions).length > 0) o.extensions = extensions;
    outputs.push(o);
  }

  // opsgenie: Alert API, priorities P1–P5 as Falcosidekick maps them
  if (str("opsgenie.apikey") !== "") {
    const o = common("opsgenie", "opsgenie", "opsgenie");
    o.api_key = secret("opsgenie.apikey");
    const region = str("opsgenie.region", "us").toLowerCase();
    if (region === "eu") o.region = "eu";
    else if (region !== "us") note("opsgenie.region", `"${region}" is not us or eu; the US endpoint is used`);
    const t = tls("opsgenie");
    if (t) o.tls = t;
    outputs.push(o);
  }

  // datadog: Events API, as Falcosidekick's datadog output
  if (str("datadog.apikey") !== "") {
    const o = common("datadog", "datadog", "datadog");
    o.api_key = secret("datadog.apikey");
    const host = str("datadog.host", "https://api.datadoghq.com").replace(/\/+$/, "");
    if (host !== "https://api.datadoghq.com") o.site = host;
    outputs.push(o);
  }

  // splunk: HEC; Falcosidekick posts to hostport with the token, without acknowledgment
  if (str("splunk.hostport") !== "") {
    const o = common("splunk", "splunk", "splunk");
    o.url = str("splunk.hostport").replace(/\/services\/collector(\/event)?\/?$/, "");
    o.token = secret("splunk.token");
    const t = tls("splunk");
    if (t) o.tls = t;
    outputs.push(o);
  }

  // pagerduty: Events API v2, each alert its own incident (dedup_key: the alert's uuid)
  if (str("pagerduty.routingkey") !== "") {
    const o = common("pagerduty", "pagerduty", "pagerduty");
    o.routing_key = secret("pagerduty.routingkey");
    const region = str("pagerduty.region", "us").toLowerCase();
    if (region === "eu") o.region = "eu";
    else if (region !== "us") note("pagerduty.region", `"${region}" is not us or eu; the US endpoint is used`);
    outputs.push(o);
  }

  if (outputs.length > 0) config.outputs = outputs;
  else {
    config.outputs = [{ name: "stdout", type: "stdout" }];
    note("outputs", "no translatable output is configured; the stdout output stands in");
  }

  // everything else
  for (const [key, reason] of Object.entries(GLOBAL_NOTES)) {
    const v = get(key).value;
    if (v !== undefined && v !== null && v !== false && v !== "" && !(typeof v === "object" && Object.values(v as Tree).every((x) => x === false || x === "" || x === null)))
      note(key, reason);
  }
  for (const section of OTHER_OUTPUTS) {
    const on = ENABLING_KEYS.find((k) => str(`${section}.${k}`) !== "") ?? (bool(`${section}.enabled`, false) ? "enabled" : undefined);
    if (on) note(section, `is configured (${section}.${on}); Peregrine has no ${section} output (a webhook output may reach it)`);
  }
  for (const key of Object.keys(tree)) {
    if (TRANSLATED.has(key) || key in GLOBAL_NOTES || OTHER_OUTPUTS.some((s) => s === key || s.startsWith(`${key}.`))) continue;
    note(key, "unknown Falcosidekick setting");
  }
  return { config, notes, warnings };
}

/** The raw (case-preserving) map at a lower-cased path, for map keys such as header names. */
function rawAt(raw: Tree, path: string): Tree | undefined {
  let cur: unknown = raw;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    const key = Object.keys(cur).find((k) => k.toLowerCase() === part);
    if (key === undefined) return undefined;
    cur = (cur as Tree)[key];
  }
  return cur !== null && typeof cur === "object" && !Array.isArray(cur) ? (cur as Tree) : undefined;
}

/**
 * Fuzzes loadConfig with valid configs mutated at the tree level (keys renamed, values of the
 * wrong type, entries dropped or added) and at the text level (characters inserted or deleted,
 * lines re-indented or duplicated). Whatever the input, loadConfig must return its problems,
 * each one locatable (a config path or a line), and never throw.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadConfig, type LoadResult } from "../../src/config/index.js";
import { PeregrineError } from "../../src/errors.js";
import { createEnricher } from "../../src/enrich/enricher.js";
import type { EnrichConfig } from "../../src/enrich/index.js";
import { routesFromConfig } from "../../src/route/index.js";
import { applyTextEdit, slots, type TextEdit } from "../harness/tree-slots.js";

const dir = mkdtempSync(join(tmpdir(), "peregrine-fuzz-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "peregrine.yaml");

const SEEDS = [
  `listen: { port: 2801, address: 127.0.0.1 }
storage: { path: ./data, max_bytes: 1GiB, fsync: true }
ingest: { max_body_bytes: 1MiB, auth: { tokens: [abc] } }
shutdown: { drain_ms: 5s }
log: { level: info }
detector:
  enabled: auto
  rules_files: [./rules]
  rules:
    - disable: { rule: "Shell*" }
    - enable: { tag: network }
  append_output:
    - match: { source: syscall }
      extra_output: "pod=%k8s.pod.name"
  ring_buffer_bytes: 8MiB
outputs:
  - name: out
    type: stdout
    format: text
  - name: archive
    type: file
    path: ./alerts.ndjson
    max_size: 10MiB
    batch: { max_events: 100, max_wait_ms: 50 }
`,
  `outputs:
  - name: siem
    type: webhook
    url: https://siem.example/peregrine
    minimum_priority: warning
    filter: alert.priority >= warning and alert.rule != "noise"
    headers: { x-key: abc }
    hmac: { secret: s3cret }
    body_template: '{"rule": "{{rule}}", "n": {{json output_fields}} }'
    retry: { initial_ms: 100, max_ms: 10s, max_attempts: 5, max_age: 1h }
    circuit: { failure_threshold: 3, open_ms: 1s }
    rate_limit: { per_second: 10, burst: 5 }
  - name: chat
    type: slack
    webhook_url: https://hooks.slack.example/services/T/B/x
    format: fields
    digest: { enabled: true, min_alerts: 3, max_rules: 5 }
`,
  `outputs:
  - name: logs
    type: loki
    url: http://127.0.0.1:3100
    encoding: json
    labels: { env: prod }
    label_fields: [proc.name, k8s.ns.name]
    basic_auth: { username: u, password: p }
  - name: stream
    type: kafka
    brokers: [127.0.0.1:9092]
    topic: falco.{{priority}}
    key: "{{rule}}"
    compression: gzip
    sasl: { mechanism: plain, username: u, password: p }
  - name: bucket
    type: s3
    bucket: alerts
    endpoint: http://127.0.0.1:9000
    force_path_style: true
    key: "{{year}}/{{month}}/{{batch_id}}.{{extension}}"
  - name: am
    type: alertmanager
    url: http://127.0.0.1:9093
    labels: { team: sec }
    severity_map: { error: critical }
    expires_after: 5m
    dedup: { window: 1m, key: [rule, output_fields.proc.name] }
    throttle: { limit: 5, interval: 10s, key: [hostname] }
enrich:
  custom_fields: { cluster: eu }
  custom_tags: [prod]
  templated_fields: { team: '{{default (index output_fields "k8s.ns.name") "none"}}' }
`,
];

/** Values of every shape a user might put where another was expected. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("", " ", "10MiB", "5s", "-1", "abc", "true", "${UNSET_VAR}", "${file:/nonexistent/secret}", "http://", "{{", "not a url", "0x10", "1e999"),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -100_000, max: 100_000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxKeys: 3 }),
);

type Mutation =
  | { op: "set"; at: number; value: unknown }
  | { op: "delete"; at: number }
  | { op: "rename"; at: number; key: string }
  | { op: "add"; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: anyValue }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("rename" as const),
    at: fc.nat(),
    key: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom("urll", "tpye", "nmae", "__proto__", "constructor", "port", "outputs")),
  }),
  fc.record({ op: fc.constant("add" as const), at: fc.nat(), key: fc.string({ minLength: 1, maxLength: 10 }), value: anyValue }),
);


function applyMutation(tree: Record<string, unknown>, mutation: Mutation): void {
  // fast-check reuses generated values while shrinking: never let the tree share (and mutate) them
  const m = structuredClone(mutation);
  const all = slots(tree);
  if (all.length === 0) return;
  const [container, key] = all[m.at % all.length]!;
  if (Array.isArray(container)) {
    const i = key as number;
    if (m.op === "delete") container.splice(i, 1);
    else if (m.op === "set" || m.op === "add") container[i] = m.value;
    else container[i] = { [m.key]: container[i] };
    return;
  }
  const k = key as string;
  if (m.op === "set") container[k] = m.value;
  else if (m.op === "delete") delete container[k];
  else if (m.op === "rename") {
    const v = container[k];
    delete container[k];
    Object.defineProperty(container, m.key, { value: v, enumerable: true, configurable: true, writable: true });
  } else {
    const target = container[k];
    if (target !== null && typeof target === "object" && !Array.isArray(target))
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    else container[k] = m.value;
  }
}


const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom(":", "- ", "\n", "  ", "\t", "{", "}", "[", "]", '"', "'", "&a ", "*a", "!!int ", "? ", "|", ">", "#", "%", "@", "`", "\u0000", "\uFEFF")),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("indent" as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ op: fc.constant("duplicate" as const), line: fc.nat() }),
);


/** PEREGRINE_* overrides with odd values: they pass through the same validation. */
const envArb = fc.dictionary(
  fc.constantFrom("PEREGRINE_LISTEN_PORT", "PEREGRINE_STORAGE_MAX_BYTES", "PEREGRINE_LOG_LEVEL", "PEREGRINE_OUTPUTS_SIEM_URL", "PEREGRINE_OUTPUTS_OUT_FORMAT", "PEREGRINE_LISTEN", "PEREGRINE_NOPE"),
  fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("abc", "-1", "{", "[1", "9000", "null", "~")),
  { maxKeys: 2 },
);

function check(text: string, env: NodeJS.ProcessEnv): LoadResult {
  writeFileSync(file, text);
  let result: LoadResult;
  try {
    result = loadConfig(file, env);
  } catch (err) {
    throw new Error(`loadConfig threw on:\n${text}\n---\n${(err as Error).stack}`);
  }
  for (const issue of result.issues) {
    const located = issue.path !== "" || issue.line !== undefined;
    if (!located) throw new Error(`issue without a location: ${JSON.stringify(issue)}\n--- input:\n${text}`);
    expect(typeof issue.message).toBe("string");
    expect(issue.message.length).toBeGreaterThan(0);
  }
  if (!result.config) expect(result.issues.some((i) => i.severity === "error")).toBe(true);
  return result;
}

describe("loadConfig under fuzzing", () => {
  it("the seeds are valid configs", () => {
    for (const seed of SEEDS) {
      const r = check(seed, {});
      expect(r.issues.filter((i) => i.severity === "error")).toEqual([]);
      expect(r.config).toBeDefined();
    }
  });

  it("an unreadable file is the one thing that throws, as a PeregrineError naming it", () => {
    for (const path of [join(dir, "missing.yaml"), dir]) {
      let thrown: unknown;
      try {
        loadConfig(path, {});
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(PeregrineError);
      expect((thrown as PeregrineError).code).toBe("CONFIG_FILE_UNREADABLE");
      expect((thrown as PeregrineError).message).toContain(path);
    }
  });

  it("tree mutations of valid configs: every problem is located, nothing throws", () => {
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), envArb, (seed, muts, env) => {
        const tree = parse(SEEDS[seed]!) as Record<string, unknown>;
        for (const m of muts) applyMutation(tree, m);
        check(stringify(tree), env);
      }),
      { numRuns: 1000 },
    );
  });

  it("text mutations of valid configs (syntax, indentation, anchors): every problem is located, nothing throws", () => {
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(textEdit, { minLength: 1, maxLength: 5 }), (seed, edits) => {
        let text = SEEDS[seed]!;
        for (const e of edits) text = applyTextEdit(text, e);
        check(text, {});
      }),
      { numRuns: 1500 },
    );
  });

  it("a mutated config that passes the check also creates its outputs (what config check accepts, the router starts)", async () => {
    const logger = pino({ level: "silent" });
    await fc.assert(
      fc.asyncProperty(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (seed, muts) => {
        const tree = parse(SEEDS[seed]!) as Record<string, unknown>;
        for (const m of muts) applyMutation(tree, m);
        const text = stringify(tree);
        const { config } = check(text, {});
        if (!config) return;
        try {
          routesFromConfig(config.outputs);
          createEnricher(config.enrich as EnrichConfig | undefined);
        } catch (err) {
          throw new Error(`config check passed but routing or enrichment cannot be set up:\n${text}\n---\n${(err as Error).stack}`);
        }
        for (const out of config.outputs) {
          let created;
          try {
            // creating an output opens no connection and no file: those wait for the first send
            created = out.definition.create(out.options as never, { name: out.name, logger, dataDir: dir });
          } catch (err) {
            throw new Error(`config check passed but output ${out.name} (${out.type}) cannot be created:\n${text}\n---\n${(err as Error).stack}`);
          }
          await created.close();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("pathological documents (deep nesting, an alias bomb, a lone alias) are located problems", () => {
    let bomb = "a: &x0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
    for (let i = 1; i < 12; i++) bomb += `b${i}: &x${i} [${Array(10).fill(`*x${i - 1}`).join(", ")}]\n`;
    const cases = [`listen: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`, `listen: ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\n`, bomb, "*nothing\n", "listen: { port: *p }\n"];
    for (const text of cases) {
      const r = check(text, {});
      expect(r.config).toBeUndefined();
      expect(r.issues[0]!.line).toBeGreaterThanOrEqual(1);
    }
  });

  it("random documents: every problem is located, nothing throws", () => {
    const yamlish = fc.stringMatching(/^[ a-z0-9:\-\n[\]{},"'#&*!|>]{0,80}$/);
    const randomTree = fc.jsonValue({ maxDepth: 3 }).map((v) => stringify(v));
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ maxLength: 60 }), randomTree), (text) => {
        check(text, {});
      }),
      { numRuns: 1000 },
    );
  });
});

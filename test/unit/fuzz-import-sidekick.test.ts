/**
 * Fuzzes `peregrine config import-sidekick`: the Falcosidekick fixture mutated (keys, values,
 * types, YAML text) and random YAML. The command runs in-process with its output captured: it
 * must answer with exit 0 (and Peregrine YAML that loadConfig reads without throwing) or 1
 * with a one-line error naming the file, and never throw or print a stack trace.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { importSidekickCommand, translateSidekick } from "../../src/cli/import-sidekick.js";
import { loadConfig } from "../../src/config/index.js";
import { applyTextEdit, slots, type TextEdit } from "../harness/tree-slots.js";

const FIXTURE = readFileSync(resolve(import.meta.dirname, "../fixtures/sidekick/config.yaml"), "utf8");
const SEEDS = [
  FIXTURE,
  `listenaddress: 0.0.0.0
listenport: 2801
customfields: "a:b,c:d"
templatedfields: { team: '{{ .Rule }}' }
s3: { bucket: b, prefix: p, minimumpriority: error }
aws: { region: eu-west-1, accesskeyid: k, secretaccesskey: s, s3: { bucket: alerts, endpoint: "http://127.0.0.1:9000" } }
alertmanager: { hostport: "http://127.0.0.1:9093", extralabels: "a:b", expiresafter: 300 }
discord: { webhookurl: "http://x/" }
mutualtlsclient: { certfile: /c.pem, keyfile: /k.pem, cacertfile: /ca.pem }
`,
];

const dir = mkdtempSync(join(tmpdir(), "peregrine-fuzz-sidekick-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const input = join(dir, "config.yaml");
const output = join(dir, "peregrine.yaml");

/** Runs the command with stdout/stderr captured; -o writes the YAML to a file. */
async function runImport(text: string): Promise<{ code: number; stderr: string; yaml: string }> {
  writeFileSync(input, text);
  writeFileSync(output, "");
  let stderr = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await importSidekickCommand([input, "-o", output, "--ignore-env"]);
  } catch (err) {
    throw new Error(`import-sidekick threw on:\n${text}\n---\n${(err as Error).stack}`);
  } finally {
    process.stderr.write = write;
  }
  return { code, stderr, yaml: readFileSync(output, "utf8") };
}

async function check(text: string): Promise<void> {
  const { code, stderr, yaml } = await runImport(text);
  if (/^\s+at /m.test(stderr)) throw new Error(`stack trace printed for:\n${text}\n---\n${stderr}`);
  if (code === 1) {
    const first = stderr.split("\n")[0]!;
    if (!first.startsWith("error: ") || !first.includes(input)) throw new Error(`error does not name the file: ${JSON.stringify(stderr)}\n--- input:\n${text}`);
    return;
  }
  if (code !== 0) throw new Error(`exit ${code} for:\n${text}\n---\n${stderr}`);
  writeFileSync(join(dir, "out.yaml"), yaml);
  try {
    loadConfig(join(dir, "out.yaml"), {});
  } catch (err) {
    throw new Error(`the translated config crashes loadConfig:\n${yaml}\n---\n${(err as Error).stack}`);
  }
}

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("", "http://127.0.0.1:1/x", "not a url", "a:b,c", ":", ",", "%VAR", "{{ .Rule }}", "{{", "warning", "nope", "true", "0"),
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null), fc.constant([])), { maxKeys: 3 }),
);

const SIDEKICK_KEYS = ["webhookurl", "hostport", "address", "minimumpriority", "outputformat", "messageformat", "extralabels", "customheaders", "brokers", "topic", "bucket", "prefix", "endpoint", "checkcert", "mutualtls", "customfields", "customtags", "templatedfields", "slack", "loki", "kafka", "webhook", "aws", "s3", "alertmanager", "teams", "debug"];

type Mutation = { op: "set"; at: number; value: unknown } | { op: "delete"; at: number } | { op: "rename"; at: number; key: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: anyValue }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("rename" as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...SIDEKICK_KEYS), fc.string({ minLength: 1, maxLength: 6 })) }),
);


function applyMutation(tree: Record<string, unknown>, mutation: Mutation): void {
  const m = structuredClone(mutation);
  const all = slots(tree);
  if (all.length === 0) return;
  const [container, key] = all[m.at % all.length]!;
  if (Array.isArray(container)) {
    if (m.op === "delete") container.splice(key as number, 1);
    else container[key as number] = m.op === "set" ? m.value : { [m.key]: container[key as number] };
    return;
  }
  const k = key as string;
  if (m.op === "set") container[k] = m.value;
  else if (m.op === "delete") delete container[k];
  else {
    const v = container[k];
    delete container[k];
    Object.defineProperty(container, m.key, { value: v, enumerable: true, configurable: true, writable: true });
  }
}

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom(":", "- ", "\n", "  ", "{", "[", '"', "&a ", "*a", "*b", "!!binary ", "|", "#", "\t")) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
);


describe("config import-sidekick under fuzzing", () => {
  it("the seeds translate", async () => {
    for (const seed of SEEDS) {
      const r = await runImport(seed);
      expect(r.code).toBe(0);
      expect(r.yaml).toContain("outputs:");
      writeFileSync(join(dir, "seed.yaml"), r.yaml);
      expect(loadConfig(join(dir, "seed.yaml"), { RUN_ID: "r" }).issues.filter((i) => i.severity === "error")).toEqual([]);
    }
  });

  it("translateSidekick takes any tree and any environment without throwing", () => {
    const env = fc.dictionary(fc.constantFrom("SLACK_WEBHOOKURL", "LOKI_HOSTPORT", "KAFKA_HOSTPORT", "WEBHOOK_ADDRESS", "CUSTOMFIELDS", "WEBHOOK_CUSTOMHEADERS", "ALERTMANAGER_HOSTPORT", "AWS_S3_BUCKET", "TEAMS_WEBHOOKURL"), fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("a:b,c", "http://x/", ":,:")), { maxKeys: 3 });
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), env, (seed, muts, e) => {
        const tree = parse(SEEDS[seed]!) as Record<string, unknown>;
        for (const m of muts) applyMutation(tree, m);
        try {
          translateSidekick(tree, e);
        } catch (err) {
          throw new Error(`translateSidekick threw on ${JSON.stringify(tree)} with ${JSON.stringify(e)}: ${(err as Error).stack}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("mutated configs through the command: exit 0 with loadable YAML, or exit 1 naming the file", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(SEEDS.length - 1), fc.array(mutation, { maxLength: 3 }), fc.array(textEdit, { maxLength: 3 }), async (seed, muts, edits) => {
        const tree = parse(SEEDS[seed]!) as Record<string, unknown>;
        for (const m of muts) applyMutation(tree, m);
        let text = stringify(tree);
        for (const e of edits) text = applyTextEdit(text, e);
        await check(text);
      }),
      { numRuns: 600 },
    );
  });

  it("an alias bomb and deep nesting: exit 1 naming file and line", async () => {
    let bomb = "a: &x0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
    for (let i = 1; i < 12; i++) bomb += `b${i}: &x${i} [${Array(10).fill(`*x${i - 1}`).join(", ")}]\n`;
    const r = await runImport(bomb);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${input}:2:10: invalid YAML: Excessive alias count`);
    const deep = await runImport(`slack: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`);
    expect(deep.code).toBe(1);
    expect(deep.stderr).toMatch(new RegExp(`^error: ${input.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:1:\\d+: invalid YAML`));
  });

  it("random documents through the command: exit 0 or exit 1 naming the file", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 3 }).map((v) => stringify(v))), async (text) => {
        await check(text);
      }),
      { numRuns: 400 },
    );
  });
});

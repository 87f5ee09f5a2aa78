/**
 * Fuzzes the rule engine's inputs: rules YAML (loadRules over in-memory documents), the
 * condition parser alone, and the replay event reader behind `peregrine rules test --events`.
 * Whatever the input, nothing throws; every load error names its code and a file position.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { EventSource } from "../../src/detector/event.js";
import { loadRules } from "../../src/detector/load.js";
import { LOAD_ERROR_CODES, LOAD_WARNING_CODES, type LoadMessage } from "../../src/detector/loader/results.js";
import type { Alert } from "../../src/alert.js";
import { parseCondition } from "../../src/detector/condition/parser.js";
import { compileFilter } from "../../src/route/filter.js";
import { normalizeReplayEvent, parseReplay, ReplayFormatError, replaySource, type ReplayEvent } from "../../src/detector/sources/replay.js";
import { applyTextEdit, slots, type TextEdit } from "../harness/tree-slots.js";

const REPO = resolve(import.meta.dirname, "../..");
const source = replaySource();
const sources = [source as unknown as EventSource<never>];

const SEED_RULES = [
  `- required_engine_version: 0.26.0
- list: shells
  items: [sh, bash, "zsh"]
- macro: spawned
  condition: evt.type in (execve, execveat) and evt.dir = <
- rule: Shell spawned
  desc: a shell started
  condition: spawned and proc.name in (shells) and not proc.pname startswith "sshd"
  output: "shell %proc.name (parent=%proc.pname cmd=%proc.cmdline)"
  priority: WARNING
  tags: [shell, process]
  exceptions:
    - name: known_parents
      fields: [proc.pname, user.name]
      comps: [=, in]
      values:
        - [cron, (root)]
`,
  `- macro: open_read
  condition: (evt.type in (open, openat) and evt.is_open_read = true and fd.typechar = 'f')
- rule: Read shadow
  desc: >
    reads /etc/shadow
  condition: >
    open_read and fd.name = /etc/shadow
    and proc.aname[2] != sudo and fd.directory glob "/etc/*"
  output: read %fd.name by %proc.name
  priority: ERROR
  enabled: true
- rule: Read shadow
  condition: and user.uid != 0
  append: true
- rule: Json rule
  desc: json
  source: json
  condition: json.value[/user] = "x"
  output: "%json.value[/user]"
  priority: NOTICE
`,
  `- rule: Outbound connection
  desc: connect
  condition: evt.type = connect and fd.sip != "127.0.0.1" and fd.sport > 1024 and tolower(proc.name) contains "nc"
  output: conn %fd.name
  priority: NOTICE
- list: allowed
  items: []
- rule: Outbound connection
  condition: and not proc.name in (allowed)
  override: { condition: append }
`,
];

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom("", "WARNING", "nope", "evt.type = open", "(", ")", "%", "%proc.name", "and", "not", "'", "\\x", "syscall", "k8s_audit", "append", "replace", "0.1.0", "99.0.0", "*"),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 100 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom("name", "fields", "comps", "values", "condition", "output", "x"), fc.oneof(fc.string({ maxLength: 6 }), fc.constant([])), { maxKeys: 3 }),
);

const KEYS = ["rule", "macro", "list", "desc", "condition", "output", "priority", "tags", "enabled", "source", "exceptions", "append", "override", "items", "required_engine_version", "required_plugin_versions", "name", "fields", "comps", "values", "warn_evttypes", "skip-if-unknown-filter", "bogus"];

type Mutation =
  | { op: "set"; at: number; value: unknown }
  | { op: "delete"; at: number }
  | { op: "rename"; at: number; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: anyValue }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("rename" as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ minLength: 1, maxLength: 6 })) }),
);


function applyMutation(tree: unknown[], mutation: Mutation): void {
  const m = structuredClone(mutation);
  const all = slots(tree);
  if (all.length === 0) return;
  const [container, key] = all[m.at % all.length]!;
  if (Array.isArray(container)) {
    const i = key as number;
    if (m.op === "delete") container.splice(i, 1);
    else if (m.op === "set") container[i] = m.value;
    else container[i] = { [m.key]: container[i] };
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


const CONDITION_BITS = ["(", ")", " and ", " or ", " not ", "=", "!=", " in ", " exists", "'", '"', ",", "[", "]", "%", "\\", "evt.type", "proc.name", "glob ", "startswith ", "tolower(", "val(", "0x", "1e5", "-"];

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom(...CONDITION_BITS, ":", "- ", "\n", "  ", "\t", "{", "}", "&a ", "*a", "!!str ", "|", ">", "#", "\u0000", "\uFEFF", "\r\n", "---\n", "...\n")),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("indent" as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);


/** A few events every compiled rule is run against, so evaluation is fuzzed too. */
const EVENTS: ReplayEvent[] = [
  { "evt.type": "execve", "evt.dir": "<", "proc.name": "bash", "proc.pname": "sshd", "proc.cmdline": "bash -i", "user.name": "root" },
  { "evt.type": "openat", "evt.is_open_read": true, "fd.typechar": "f", "fd.name": "/etc/shadow", "proc.name": "cat", "proc.aname": ["bash", "sudo"], "user.uid": 1000 },
  { "evt.type": "connect", "fd.sip": "10.0.0.1", "fd.sport": 4444, "proc.name": "nc" },
].map((fields) => normalizeReplayEvent({ time: "2026-01-01T00:00:00Z", fields }, 1));

const KNOWN_CODES = new Set<string>([...Object.keys(LOAD_ERROR_CODES), ...Object.keys(LOAD_WARNING_CODES)]);

function checkMessage(m: LoadMessage, file: string, text: string): void {
  const where = `${JSON.stringify(m)}\n--- input:\n${text}`;
  if (!KNOWN_CODES.has(m.code)) throw new Error(`unknown code: ${where}`);
  if (m.position.file !== file) throw new Error(`wrong file: ${where}`);
  if (!(Number.isInteger(m.position.line) && m.position.line >= 1)) throw new Error(`no line: ${where}`);
  if (!(Number.isInteger(m.position.column) && m.position.column >= 1)) throw new Error(`no column: ${where}`);
  if (typeof m.message !== "string" || m.message.length === 0) throw new Error(`no message: ${where}`);
}

function check(text: string): void {
  const file = "fuzz_rules.yaml";
  let loaded: ReturnType<typeof loadRules>;
  try {
    loaded = loadRules({ documents: [{ name: file, text }], sources, hostname: "h", ruleMatching: "all" });
  } catch (err) {
    throw new Error(`loadRules threw on:\n${text}\n---\n${(err as Error).stack}`);
  }
  for (const m of loaded.results.errors) checkMessage(m, file, text);
  for (const m of loaded.results.warnings) checkMessage(m, file, text);
  if (!loaded.results.ok) return;
  for (const ev of EVENTS) {
    try {
      loaded.ruleset.evaluate(source, ev);
    } catch (err) {
      throw new Error(`evaluate threw on:\n${text}\n--- event ${JSON.stringify(ev.fields)}\n${(err as Error).stack}`);
    }
  }
}

describe("loadRules under fuzzing", () => {
  it("the seeds load without errors", () => {
    for (const seed of SEED_RULES) {
      const r = loadRules({ documents: [{ name: "seed.yaml", text: seed }], sources, hostname: "h" });
      expect(r.results.errors).toEqual([]);
    }
  });

  it("tree mutations of valid rules files: errors carry code and position, nothing throws", () => {
    fc.assert(
      fc.property(fc.nat(SEED_RULES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, muts) => {
        const tree = parse(SEED_RULES[seed]!) as unknown[];
        for (const m of muts) applyMutation(tree, m);
        check(stringify(tree));
      }),
      { numRuns: 1500 },
    );
  });

  it("text mutations of valid rules files (YAML and conditions): errors carry code and position, nothing throws", () => {
    fc.assert(
      fc.property(fc.nat(SEED_RULES.length - 1), fc.array(textEdit, { minLength: 1, maxLength: 5 }), (seed, edits) => {
        let text = SEED_RULES[seed]!;
        for (const e of edits) text = applyTextEdit(text, e);
        check(text);
      }),
      { numRuns: 1500 },
    );
  });

  it("random conditions and outputs in a rule: errors carry code and position, nothing throws", () => {
    const condition = fc.array(fc.oneof(fc.constantFrom(...CONDITION_BITS, "fd.name", "proc.aname[2]", "json.value[/a]", "evt.arg.flags", "pmatch", "(a, b)", "spawned"), fc.string({ maxLength: 3 })), { maxLength: 12 }).map((p) => p.join(""));
    const output = fc.array(fc.oneof(fc.constantFrom("%", "%proc.name", "%evt.arg[", "%(", ")", "%json.value[/x]", " ", "text"), fc.string({ maxLength: 3 })), { maxLength: 8 }).map((p) => p.join(""));
    fc.assert(
      fc.property(condition, output, (cond, out) => {
        check(stringify([{ macro: "spawned", condition: "evt.type = execve" }, { rule: "r", desc: "d", condition: cond, output: out, priority: "WARNING" }]));
      }),
      { numRuns: 1500 },
    );
  });

  it("anchors and aliases in any value position: errors carry code and position, nothing throws", () => {
    fc.assert(
      fc.property(fc.nat(SEED_RULES.length - 1), fc.array(fc.tuple(fc.nat(), fc.constantFrom("&a ", "*a", "*b", "&b [1]", "*a\n")), { minLength: 1, maxLength: 3 }), (seed, edits) => {
        let text = SEED_RULES[seed]!;
        for (const [li, alias] of edits) {
          const all = text.split("\n");
          const i = li % all.length;
          // replace a value (after "key: " or "- ") with the anchor or alias
          all[i] = all[i]!.replace(/^(\s*(?:- )?[a-z_]+: |\s*- ).*$/, `$1${alias}`);
          text = all.join("\n");
        }
        check(text);
      }),
      { numRuns: 500 },
    );
  });

  it("the shipped rules and slices of Falco's ruleset, mutated: errors carry code and position, nothing throws", () => {
    const shipped = readFileSync(resolve(REPO, "rules/peregrine_rules.yaml"), "utf8");
    // Falco's rules corpus, read in place next to the repository, cut into its top-level items
    const falco = readFileSync(resolve(REPO, "../shared/corpus/falco-rules/falco_rules.yaml"), "utf8");
    const items = falco.split(/\n(?=- )/);
    const slice = fc.tuple(fc.nat(items.length - 1), fc.integer({ min: 1, max: 15 })).map(([at, n]) => items.slice(at, at + n).join("\n"));
    fc.assert(
      fc.property(fc.oneof(fc.constant(shipped), slice), fc.array(textEdit, { maxLength: 4 }), (seed, edits) => {
        let text = seed;
        for (const e of edits) text = applyTextEdit(text, e);
        check(text);
      }),
      { numRuns: 600 },
    );
  });

  it("pathological documents (deep nesting, an alias bomb, long and deep conditions) are positioned errors", () => {
    let bomb = "- list: l0\n  items: &x0 [a, a, a, a, a, a, a, a, a, a]\n";
    for (let i = 1; i < 12; i++) bomb += `- list: l${i}\n  items: &x${i} [${Array(10).fill(`*x${i - 1}`).join(", ")}]\n`;
    const rule = (condition: string) => `- rule: r\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: WARNING\n`;
    const cases = [
      bomb,
      `- ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`,
      `- ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\n`,
      rule(`${"(".repeat(2000)}proc.name = a${")".repeat(2000)}`),
      rule(`${"not ".repeat(20_000)}proc.name = a`),
      rule(Array.from({ length: 5000 }, (_, i) => `proc.name = a${i}`).join(" or ")),
      rule(`${"tolower(".repeat(2000)}proc.name${")".repeat(2000)} = a`),
    ];
    for (const text of cases) check(text);
    expect(loadRules({ documents: [{ name: "b.yaml", text: bomb }], sources, hostname: "h" }).results.errors[0]?.code).toBe("LOAD_ERR_YAML_PARSE");
  });

  it("random documents: errors carry code and position, nothing throws", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 3 }).map((v) => stringify(v))), (text) => check(text)),
      { numRuns: 1000 },
    );
  });
});

describe("the condition parser under fuzzing", () => {
  const VALID = [
    "evt.type in (open, openat) and fd.name startswith /etc",
    "not (proc.name = bash or proc.pname glob 'ssh*') and user.uid != 0",
    "proc.aname[2] in (sudo, su) and fd.sport >= 1024",
    "tolower(proc.name) contains 'nc' and evt.arg.flags contains O_CREAT",
    "fd.name pmatch (/etc, /var/log) and proc.cmdline icontains \"curl -s\"",
    "spawned and not container.id exists and fd.num > 0x10",
    "proc.name in shells and json.value[/a/b] = \"x\\\"y\"",
  ];

  function parsedOrPositioned(input: string): void {
    let r: ReturnType<typeof parseCondition>;
    try {
      r = parseCondition(input);
    } catch (err) {
      throw new Error(`parseCondition threw on ${JSON.stringify(input)}: ${(err as Error).stack}`);
    }
    if (r.ok) return;
    const { message, pos } = r.error;
    if (typeof message !== "string" || message === "") throw new Error(`no message for ${JSON.stringify(input)}`);
    const offset = (pos as { offset?: number }).offset;
    const line = (pos as { line?: number }).line;
    const col = (pos as { col?: number; column?: number }).col ?? (pos as { column?: number }).column;
    if (offset !== undefined && (offset < 0 || offset > input.length)) throw new Error(`position ${offset} outside ${JSON.stringify(input)}`);
    if (line !== undefined && line < 1) throw new Error(`line ${line} for ${JSON.stringify(input)}`);
    if (col !== undefined && col < 1) throw new Error(`column ${col} for ${JSON.stringify(input)}`);
  }

  it("valid conditions parse", () => {
    for (const c of VALID) expect(parseCondition(c).ok, c).toBe(true);
  });

  it("random strings: a result or an error with a position inside the input", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 })), parsedOrPositioned), { numRuns: 3000 });
  });

  it("mutated valid conditions: a result or an error with a position inside the input", () => {
    fc.assert(
      fc.property(fc.nat(VALID.length - 1), fc.array(textEdit, { minLength: 1, maxLength: 4 }), (i, edits) => {
        let text = VALID[i]!;
        for (const e of edits) text = applyTextEdit(text, e);
        parsedOrPositioned(text);
      }),
      { numRuns: 3000 },
    );
  });

  it("deep nesting does not overflow the stack", () => {
    parsedOrPositioned(`${"(".repeat(5000)}proc.name = a${")".repeat(5000)}`);
    parsedOrPositioned("not ".repeat(20000) + "proc.name = a");
    parsedOrPositioned(`${"tolower(".repeat(3000)}proc.name${")".repeat(3000)} = a`);
  });
});

describe("output filters (the alert source) under fuzzing", () => {
  const BITS = ["alert.rule", "alert.priority", "alert.source", "alert.tags", "alert.hostname", "alert.output", "alert.time", "alert.field[k8s.ns.name]", "alert.field[proc.name]", "alert.field[", "alert.nope",
    " >= ", " = ", " != ", " in ", " contains ", " startswith ", " intersects ", " exists", " and ", " or ", "not ", "(", ")", "warning", "Critical", "k8s", "(a, b)", "'x y'", '"', "\n", "\t", ",", "]", "0"];
  const soup = fc.array(fc.oneof(fc.constantFrom(...BITS), fc.string({ maxLength: 3 })), { maxLength: 12 }).map((p) => p.join(""));
  // well-formed checks joined by and/or, so that many filters compile and get evaluated
  const check = fc
    .tuple(
      fc.constantFrom("alert.rule", "alert.priority", "alert.source", "alert.tags", "alert.hostname", "alert.output", "alert.field[k8s.ns.name]", "alert.field[fd.num]", "alert.field[x]"),
      fc.constantFrom("=", "!=", ">=", "<", "in", "contains", "startswith", "endswith", "glob", "intersects", "exists", "pmatch", "icontains"),
      fc.constantFrom("warning", "Critical", "k8s", "(a, b)", "(warning, error)", "'x y'", '"a*"', "5", "0x1f", "-1", "''"),
      fc.constantFrom("", "not "),
    )
    .map(([f, op, v, neg]) => `${neg}${f} ${op}${op === "exists" ? "" : ` ${v}`}`);
  const structured = fc.array(check, { minLength: 1, maxLength: 4 }).chain((cs) =>
    fc.array(fc.constantFrom(" and ", " or ", "\nand "), { minLength: cs.length - 1, maxLength: cs.length - 1 }).map((ops) => cs.map((c, i) => (i === 0 ? c : `${ops[i - 1]}${c}`)).join("")),
  );
  const filterText = fc.oneof(soup, structured);
  const alertArb = fc.record({
    uuid: fc.uuid(),
    time: fc.constantFrom("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789Z"),
    priority: fc.constantFrom("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"),
    rule: fc.string({ maxLength: 8 }),
    output: fc.string({ maxLength: 12 }),
    output_fields: fc.dictionary(fc.constantFrom("k8s.ns.name", "proc.name", "fd.num", "x"), fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 }),
    source: fc.constantFrom("syscall", "k8s_audit", ""),
    tags: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
    hostname: fc.string({ maxLength: 6 }),
  });

  it("compiles or reports positions inside the filter text; what compiles matches any alert without throwing", () => {
    fc.assert(
      fc.property(filterText, fc.array(alertArb, { minLength: 1, maxLength: 3 }), (text, alerts) => {
        let compiled: ReturnType<typeof compileFilter>;
        try {
          compiled = compileFilter(text);
        } catch (err) {
          throw new Error(`compileFilter threw on ${JSON.stringify(text)}: ${(err as Error).stack}`);
        }
        if (!compiled.ok) {
          const lines = text.split("\n");
          for (const e of compiled.errors) {
            const line = lines[e.line - 1];
            if (line === undefined || e.column < 1 || e.column > line.length + 1)
              throw new Error(`position ${e.line}:${e.column} outside ${JSON.stringify(text)}: ${e.message}`);
            if (!e.code || !e.message) throw new Error(`no code or message for ${JSON.stringify(text)}`);
          }
          return;
        }
        for (const a of alerts) {
          try {
            compiled.match(a as Alert);
          } catch (err) {
            throw new Error(`filter ${JSON.stringify(text)} threw on ${JSON.stringify(a)}: ${(err as Error).stack}`);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("the replay event reader under fuzzing", () => {
  const SEED_LINES = [
    '{"source": "syscall", "time": "2026-02-01T08:00:00.5Z", "fields": {"evt.type": "openat", "evt.is_open_read": true, "fd.name": "/etc/shadow", "proc.name": "cat", "user.uid": 0}}',
    '{"time": "2026-02-01T08:00:00Z", "fields": {"evt.type": "execve", "proc.aname": ["bash", "sshd"], "proc.apid": [1, 2], "evt.arg.flags": "O_RDONLY"}}',
    "# a comment",
    "",
  ];

  function readerCheck(text: string): void {
    try {
      parseReplay(text);
    } catch (err) {
      if (!(err instanceof ReplayFormatError)) throw new Error(`parseReplay threw ${String(err)} on:\n${text}\n${(err as Error).stack}`);
      const lines = text.split(/\r?\n/).length;
      if (!(err.line >= 1 && err.line <= lines)) throw new Error(`line ${err.line} outside 1..${lines} for:\n${text}`);
      expect(err.message.length).toBeGreaterThan(0);
    }
  }

  it("mutated event files: events or a ReplayFormatError naming the line", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(SEED_LINES.length - 1), { minLength: 1, maxLength: 4 }), fc.array(textEdit, { maxLength: 4 }), (picks, edits) => {
        let text = picks.map((i) => SEED_LINES[i]).join("\n");
        for (const e of edits) text = applyTextEdit(text, e);
        readerCheck(text);
      }),
      { numRuns: 2000 },
    );
  });

  it("random JSON lines: events or a ReplayFormatError naming the line", () => {
    const field = fc.constantFrom("evt.type", "proc.name", "proc.aname", "proc.aname[2]", "proc.apid", "fd.num", "fd.sport", "evt.is_open_read", "evt.arg.flags", "evt.arg[flags]", "user.uid", "nope.field", "__proto__", "constructor", "proc.pid");
    const value = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.constant(null)), { maxLength: 3 }), fc.constant({}));
    const event = fc.record(
      {
        source: fc.oneof(fc.constantFrom("syscall", "", "k8s"), fc.integer()),
        time: fc.oneof(fc.constantFrom("2026-01-01T00:00:00Z", "yesterday", "2026-13-45T99:99:99Z", ""), fc.integer()),
        fields: fc.oneof(fc.dictionary(field, value, { maxKeys: 4 }), fc.constant(null), fc.constant([]), fc.string({ maxLength: 3 })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(event.map((e) => JSON.stringify(e)), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 20 })), { maxLength: 4 }), (lines) => {
        const text = lines.join("\n");
        readerCheck(text);
        // what the reader accepts, the rules evaluate
        let events: ReplayEvent[];
        try {
          events = parseReplay(text);
        } catch {
          return;
        }
        const { ruleset } = loadRules({ documents: [{ name: "seed.yaml", text: SEED_RULES[0]! }], sources, hostname: "h", ruleMatching: "all" });
        for (const ev of events) ruleset.evaluate(source, ev);
      }),
      { numRuns: 2000 },
    );
  });
});

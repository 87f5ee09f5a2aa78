import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Expr } from "../../../src/detector/condition/ast.js";
import { printCondition } from "../../../src/detector/condition/printer.js";
import { parseCondition } from "../../../src/detector/condition/parser.js";
import { compileCondition, compileConditionClosures } from "../../../src/detector/compiler/compile.js";
import { normalizeReplayEvent, replaySource } from "../../../src/detector/sources/replay.js";

// The generated-code backend and the closure backend must agree on every well-typed condition
// and every event, including events missing the fields a condition reads.
const source = replaySource();
const WORDS = ["bash", "cat", "/etc/shadow", "/etc/hosts", "openat", "execve", "sshd", ""];
const NUMS = [-1, 0, 3, 1000];

const stringCheck = fc
  .tuple(
    fc.constantFrom("proc.name", "fd.name", "proc.pname", "proc.cmdline", "proc.aname", "proc.aname[2]"),
    fc.constantFrom("=", "!=", "<", ">=", "contains", "startswith", "endswith", "icontains", "glob", "in", "intersects", "pmatch"),
    fc.array(fc.constantFrom(...WORDS.filter((w) => w !== "")), { minLength: 1, maxLength: 10 }),
  )
  .map(([f, op, vals]) => {
    const list = ["in", "intersects", "pmatch"].includes(op);
    return `${f} ${op} ${list ? `(${vals.map((v) => JSON.stringify(v)).join(", ")})` : JSON.stringify(vals[0])}`;
  });
const numericCheck = fc
  .tuple(fc.constantFrom("fd.num", "user.uid"), fc.constantFrom("=", "!=", "<", "<=", ">", ">=", "in"), fc.array(fc.constantFrom(...NUMS), { minLength: 1, maxLength: 10 }))
  .map(([f, op, vals]) => `${f} ${op} ${op === "in" ? `(${vals.join(", ")})` : vals[0]}`);
const boolCheck = fc.tuple(fc.constantFrom("=", "!="), fc.boolean()).map(([op, b]) => `evt.is_open_read ${op} ${b}`);
const typeCheck = fc
  .tuple(fc.constantFrom("=", "!=", "in"), fc.array(fc.constantFrom("openat", "execve", "connect"), { minLength: 1, maxLength: 3 }))
  .map(([op, vals]) => `evt.type ${op} ${op === "in" ? `(${vals.join(", ")})` : vals[0]}`);
const existsCheck = fc.constantFrom("proc.name exists", "fd.num exists", "proc.aname exists");
const check = fc.oneof(stringCheck, numericCheck, boolCheck, typeCheck, existsCheck);

const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    check,
    fc.tuple(tie("c"), fc.constantFrom("and", "or"), tie("c")).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie("c").map((a) => `not (${a})`),
  ),
})).c;

const event = fc
  .record(
    {
      "evt.type": fc.constantFrom("openat", "execve"),
      "proc.name": fc.constantFrom(...WORDS),
      "proc.pname": fc.constantFrom(...WORDS),
      "fd.name": fc.constantFrom(...WORDS),
      "fd.num": fc.constantFrom(...NUMS),
      "user.uid": fc.constantFrom(...NUMS),
      "evt.is_open_read": fc.boolean(),
      "proc.aname": fc.array(fc.constantFrom(...WORDS), { maxLength: 4 }),
    },
    { requiredKeys: [] },
  )
  .map((fields) => normalizeReplayEvent({ fields }, 1));

describe("compiler backends", () => {
  it("generated code and closures agree on random conditions and events", () => {
    fc.assert(
      fc.property(condition, fc.array(event, { minLength: 1, maxLength: 8 }), (text, events) => {
        const r = parseCondition(text);
        if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
        const gen = compileCondition(r.ast, source);
        const clo = compileConditionClosures(r.ast, source);
        for (const e of events) expect([text, gen(e)]).toEqual([text, clo(e)]);
      }),
      { numRuns: 1500 },
    );
  });
  it("a printed condition compiles to the same verdicts", () => {
    fc.assert(
      fc.property(condition, event, (text, e) => {
        const r = parseCondition(text);
        if (!r.ok) throw new Error(r.error.message);
        const again = parseCondition(printCondition(r.ast as Expr));
        if (!again.ok) throw new Error(again.error.message);
        expect(compileCondition(again.ast, source)(e)).toBe(compileCondition(r.ast, source)(e));
      }),
      { numRuns: 500 },
    );
  });
});

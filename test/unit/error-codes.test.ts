/**
 * The error catalog is honest: docs/errors.md lists exactly the codes the product emits. The
 * code side is read from the source of src/ and outputs/, at the places a code is given to a
 * user: a thrown error's first argument (or its class's super call), an HTTP error body, a `code:` field or property, a
 * config problem's code (the last argument of ctx.error), `"X" satisfies ErrorCode`.
 * Falco's rule-loading codes (LOAD_*) are documented in docs/rules.md instead.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, HTTP_STATUS, type ErrorCode } from "../../src/errors.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CODE = String.raw`"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`;
/** The places a code is handed to a user; `\s*` spans the line breaks of a wrapped call. */
const EMITTING = [
  // new PeregrineError("X", ...), new SensorError("X", ...), errorBody("X", ...), exceptionFailure("X", ...)
  new RegExp(String.raw`(?:\bnew\s+\w+|\w*Error|\bsuper|\berrorBody|\bexceptionFailure)\(\s*${CODE}`, "g"),
  // { code: "X" }, readonly code = "X", code: "X" | "Y"
  new RegExp(String.raw`\bcode\??\s*[:=]\s*${CODE}`, "g"),
  new RegExp(String.raw`\|\s*${CODE}`, "g"),
  // ctx.error(path, message, "X")
  new RegExp(String.raw`,\s*${CODE}\s*,?\s*\)`, "g"),
  new RegExp(String.raw`${CODE}\s+satisfies\s+ErrorCode`, "g"),
];
/** Codes of other systems the product reads, never emits (SQLite's, undici's, Kafka's, ...). */
const FOREIGN = /^(LOAD_|SQLITE_|UND_ERR_|ERR_|FST_ERR_|E[A-Z]+$)/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** code -> the files that emit it. */
function emittedCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of [...sourceFiles(join(ROOT, "src")), ...sourceFiles(join(ROOT, "outputs"))]) {
    const rel = relative(ROOT, file);
    if (rel === join("src", "errors.ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const re of EMITTING)
      for (const m of text.matchAll(re)) {
        const code = m[1]!;
        if (FOREIGN.test(code)) continue;
        // a `|` union or a last argument is a code only where the code side names it as one
        if ((re === EMITTING[2] || re === EMITTING[3]) && !(code in ERROR_CODES) && !/code/i.test(text.slice(Math.max(0, m.index! - 200), m.index!))) continue;
        found.set(code, [...new Set([...(found.get(code) ?? []), rel])]);
      }
  }
  return found;
}

function documentedCodes(): string[] {
  const doc = readFileSync(join(ROOT, "docs", "errors.md"), "utf8");
  return [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

describe("error catalog", () => {
  it("docs/errors.md lists every code the product emits", () => {
    const documented = new Set(documentedCodes());
    const undocumented = [...emittedCodes()].filter(([code]) => !documented.has(code)).map(([code, files]) => `${code} (${files.join(", ")})`);
    expect(undocumented).toEqual([]);
  });

  it("docs/errors.md lists no code that nothing emits", () => {
    const emitted = emittedCodes();
    expect(documentedCodes().filter((code) => !emitted.has(code))).toEqual([]);
  });

  it("the scan finds the codes it must (it reads emission sites, not only the catalog)", () => {
    const emitted = emittedCodes();
    // one of each kind of site: a thrown error, an HTTP error body, a code field, satisfies ErrorCode
    for (const code of ["CONFIG_FILE_UNREADABLE", "INGEST_METHOD_NOT_ALLOWED", "INGEST_EMPTY_BODY", "INTERNAL_ERROR", "SENSOR_UNAVAILABLE"]) expect(emitted.has(code), code).toBe(true);
    expect(emitted.has("SQLITE_BUSY")).toBe(false);
  });

  it("every HTTP status written beside a code in the source is the catalog's status for it", () => {
    // reply.code(400)...errorBody("X" or { error: { code: "X" } (one statement), { status: 413, code: "X" }, sendError("X", res, 404
    const PAIRS = [
      new RegExp(String.raw`\.code\((\d{3})\)[^;]*?(?:errorBody\(|code:\s*)${CODE}`, "gs"),
      new RegExp(String.raw`status:\s*(\d{3}),\s*code:\s*${CODE}`, "g"),
    ];
    const SEND_ERROR = new RegExp(String.raw`sendError\(\s*${CODE},\s*\w+,\s*(\d{3})`, "g");
    const wrong: string[] = [];
    let seen = 0;
    const check = (code: string, status: number, where: string) => {
      seen++;
      if (HTTP_STATUS[code as ErrorCode] !== status) wrong.push(`${where}: ${code} answered ${status}, the catalog says ${HTTP_STATUS[code as ErrorCode] ?? "no status"}`);
    };
    for (const file of [...sourceFiles(join(ROOT, "src")), ...sourceFiles(join(ROOT, "outputs"))]) {
      const rel = relative(ROOT, file);
      const text = readFileSync(file, "utf8");
      for (const re of PAIRS) for (const m of text.matchAll(re)) check(m[2]!, Number(m[1]), rel);
      for (const m of text.matchAll(SEND_ERROR)) check(m[1]!, Number(m[2]), rel);
    }
    expect(wrong).toEqual([]);
    // the scan reads the router's API, the dashboard's and the audit endpoint
    expect(seen).toBeGreaterThan(25);
    // and a status in the catalog belongs to a catalogued code
    for (const code of Object.keys(HTTP_STATUS)) expect(code in ERROR_CODES, code).toBe(true);
  });
});

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import { CHAT_OUTPUT_TYPES } from "../../src/route/index.js";

const doc = readFileSync(resolve(import.meta.dirname, "../../docs/routing.md"), "utf8");

describe("docs/routing.md on chat outputs", () => {
  const section = doc.slice(doc.indexOf("## Chat outputs"), doc.indexOf("\n## ", doc.indexOf("## Chat outputs") + 1));
  // The types the section names as chat outputs: the backticked words before "get".
  const named = [...section.slice(0, section.indexOf(" get")).matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);

  it("names only output types that exist, and exactly those that get chat defaults", () => {
    expect(named.length).toBeGreaterThan(0);
    for (const t of named) expect(Object.keys(OUTPUT_TYPES), t).toContain(t);
    expect(named.sort()).toEqual([...CHAT_OUTPUT_TYPES].sort());
  });

  it("every chat output type with a default dedup is a real output type", () => {
    for (const t of CHAT_OUTPUT_TYPES) expect(Object.keys(OUTPUT_TYPES), t).toContain(t);
  });
});

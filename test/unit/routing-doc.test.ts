import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { OUTPUT_TYPES } from "../../outputs/registry.js";

const doc = readFileSync(resolve(import.meta.dirname, "../../docs/routing.md"), "utf8");

/** The output types whose definition declares a chat service. */
const CHAT_OUTPUT_TYPES = Object.values(OUTPUT_TYPES)
  .filter((d) => d.chat === true)
  .map((d) => d.type);

describe("docs/routing.md on chat outputs", () => {
  const section = doc.slice(doc.indexOf("## Chat outputs"), doc.indexOf("\n## ", doc.indexOf("## Chat outputs") + 1));
  // The types the section names as chat outputs: the backticked words before "get".
  const named = [...section.slice(0, section.indexOf(" get")).matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);

  it("names only output types that exist, and exactly those that get chat defaults", () => {
    expect(named.length).toBeGreaterThan(0);
    for (const t of named) expect(Object.keys(OUTPUT_TYPES), t).toContain(t);
    expect(named.sort()).toEqual([...CHAT_OUTPUT_TYPES].sort());
  });

  it("the chat services are chat outputs (Slack and the seven that share its digest)", () => {
    expect(CHAT_OUTPUT_TYPES.sort()).toEqual(["discord", "googlechat", "mattermost", "rocketchat", "slack", "teams", "telegram", "webex"]);
  });
});

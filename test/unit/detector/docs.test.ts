import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderFieldsMarkdown } from "../../../src/detector/fields/docs.js";
import { LOAD_ERROR_CODES, LOAD_WARNING_CODES } from "../../../src/detector/loader/results.js";
import { REPO } from "./helpers.js";

// The docs are checked against the code, so codes and fields cannot drift apart.
describe("detector docs", () => {
  it("docs/fields.md is generated from the field registries", () => {
    expect(readFileSync(join(REPO, "docs/fields.md"), "utf8")).toBe(renderFieldsMarkdown());
  });
  it("docs/rules.md documents every load error and warning code", () => {
    const doc = readFileSync(join(REPO, "docs/rules.md"), "utf8");
    for (const code of [...Object.keys(LOAD_ERROR_CODES), ...Object.keys(LOAD_WARNING_CODES)]) {
      expect(doc, code).toContain(`| \`${code}\` |`);
    }
  });
});

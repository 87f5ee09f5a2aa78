import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { renderConfigReference } from "../../src/config/docs.js";
import { renderErrorReference } from "../../src/errors-doc.js";

const root = resolve(import.meta.dirname, "../..");

describe("generated docs match the code (run `npm run docs:config` after changing a schema or an error code)", () => {
  it("docs/configuration.md", () => {
    expect(readFileSync(resolve(root, "docs/configuration.md"), "utf8")).toBe(renderConfigReference());
  });
  it("docs/errors.md", () => {
    expect(readFileSync(resolve(root, "docs/errors.md"), "utf8")).toBe(renderErrorReference());
  });
});

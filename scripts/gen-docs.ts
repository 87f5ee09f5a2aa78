// Regenerates the docs that are derived from code: the configuration reference and the error codes.
import { writeFileSync } from "node:fs";
import { renderConfigReference } from "../src/config/docs.js";
import { renderErrorReference } from "../src/errors-doc.js";

writeFileSync("docs/configuration.md", renderConfigReference());
writeFileSync("docs/errors.md", renderErrorReference());
console.log("wrote docs/configuration.md and docs/errors.md");

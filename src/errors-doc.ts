import { ERROR_CODES } from "./errors.js";

/** docs/errors.md, from the catalog in src/errors.ts. */
export function renderErrorReference(): string {
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from src/errors.ts by `npm run docs:config`; do not edit by hand. -->",
    "",
    "Every error the router shows a user carries one of these stable codes: HTTP answers as",
    '`{"error": {"code", "message", "field"}}`, logs as `code`. Rule-loading errors use Falco\'s own codes',
    "(`LOAD_ERR_*`, `LOAD_*`), listed in docs/rules.md.",
    "",
    "| code | meaning |",
    "|---|---|",
    ...Object.entries(ERROR_CODES).map(([code, text]) => `| \`${code}\` | ${text} |`),
  ];
  return `${lines.join("\n")}\n`;
}

import { ERROR_CODES, HTTP_STATUS, type ErrorCode } from "./errors.js";

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
    "The HTTP column is the status an HTTP endpoint answers with the code (blank: never an HTTP answer).",
    "",
    "| code | HTTP | meaning |",
    "|---|---|---|",
    ...Object.entries(ERROR_CODES).map(([code, text]) => `| \`${code}\` | ${HTTP_STATUS[code as ErrorCode] ?? ""} | ${text} |`),
  ];
  return `${lines.join("\n")}\n`;
}

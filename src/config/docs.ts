import { ObjectSchema, type SchemaDoc } from "./schema.js";
import { rootShape } from "./index.js";
import { laneShape } from "./lane.js";
import { OUTPUT_TYPES } from "../../outputs/registry.js";

/**
 * Renders docs/configuration.md from the schemas themselves, so the reference cannot
 * drift from what `config check` enforces (test/unit/config-docs.test.ts compares them).
 */
export function renderConfigReference(): string {
  const out: string[] = [
    "# Configuration reference",
    "",
    "<!-- Generated from the config schemas by `npm run docs:config`; do not edit by hand. -->",
    "",
    "One YAML file (`-c FILE`, default `./peregrine.yaml`; built-in defaults when it is absent).",
    "Every key can be overridden by an environment variable: `PEREGRINE_` + the key path in upper case with `_`",
    "(`PEREGRINE_LISTEN_PORT=9000`); an output's keys by its name: `PEREGRINE_OUTPUTS_<NAME>_<KEY>` (the built-in",
    "`stdout` output too: `PEREGRINE_OUTPUTS_STDOUT_FORMAT=text`); a variable naming no configured output is an error,",
    "and any other `PEREGRINE_*` variable that matches no key is a warning naming the closest one (`PEREGRINE_LISTN_PORT`:",
    "did you mean `PEREGRINE_LISTEN_PORT`?).",
    "Any string value may hold `${VAR}` (an environment variable) or `${file:/path}` (a file's content, for secrets).",
    "Durations take `ms` numbers or `500ms`, `30s`, `5m`, `1h`; sizes take bytes or `512KiB`, `1MiB`, `10MB`.",
    "",
    "## Top level",
    "",
  ];
  const root = new ObjectSchema(rootShape).doc();
  table(out, root.fields!, "");
  out.push("", "## Every output", "", "Each entry of `outputs:` has these keys, whatever its type; an output type may change their defaults (see its section).", "");
  table(out, new ObjectSchema(laneShape).doc().fields!, "");
  for (const [type, def] of Object.entries(OUTPUT_TYPES)) {
    out.push("", `## Output \`${type}\``, "", def.summary, "");
    if (def.laneDefaults) out.push(`Lane defaults for this type: \`${JSON.stringify(def.laneDefaults)}\``, "");
    table(out, def.schema.doc().fields!, "");
  }
  return `${out.join("\n")}\n`;
}

function table(out: string[], fields: Record<string, SchemaDoc>, prefix: string): void {
  const rows: string[] = [];
  collect(rows, fields, prefix);
  out.push("| key | type | default | meaning |", "|---|---|---|---|", ...rows);
}

function collect(rows: string[], fields: Record<string, SchemaDoc>, prefix: string): void {
  for (const [key, doc] of Object.entries(fields)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (doc.fields) {
      rows.push(`| \`${path}\` | map | | ${doc.description ?? ""} |`);
      collect(rows, doc.fields, path);
      continue;
    }
    const def = doc.default === undefined ? (doc.required ? "required" : "") : `\`${JSON.stringify(doc.default)}\``;
    rows.push(`| \`${path}\` | ${doc.type.replace(/\|/g, "\\|")} | ${def} | ${doc.description ?? ""} |`);
  }
}

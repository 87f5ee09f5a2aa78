/**
 * Load results with Falco's codes: every error and warning names its code, the item it is
 * about, and a file position (plus a caret snippet for condition problems).
 */

export const LOAD_ERROR_CODES = {
  LOAD_ERR_FILE_READ: "File read error",
  LOAD_ERR_YAML_PARSE: "YAML parse error",
  LOAD_ERR_YAML_VALIDATE: "Error validating internal structure of YAML file",
  LOAD_ERR_COMPILE_CONDITION: "Error compiling condition",
  LOAD_ERR_COMPILE_OUTPUT: "Error compiling output",
  LOAD_ERR_VALIDATE: "Error validating rule/macro/list/exception objects",
  LOAD_ERR_EXTENSION: "Error in extension item",
} as const;

export const LOAD_WARNING_CODES = {
  LOAD_UNKNOWN_SOURCE: "Unknown event source",
  LOAD_UNSAFE_NA_CHECK: "Unsafe <NA> comparison in condition",
  LOAD_NO_EVTTYPE: "Condition has no event-type restriction",
  LOAD_UNKNOWN_FILTER: "Unknown field or event-type in condition or output",
  LOAD_UNUSED_MACRO: "Unused macro",
  LOAD_UNUSED_LIST: "Unused list",
  LOAD_UNKNOWN_ITEM: "Unknown rules file item",
  LOAD_DEPRECATED_ITEM: "Used deprecated item",
  LOAD_WARNING_EXTENSION: "Warning in extension item",
  LOAD_APPEND_NO_VALUES: "Overriding/appending with no values",
  LOAD_EXCEPTION_NAME_NOT_UNIQUE: "Multiple exceptions defined with the same name",
  LOAD_INVALID_MACRO_NAME: "Invalid macro name",
  LOAD_INVALID_LIST_NAME: "Invalid list name",
  LOAD_COMPILE_CONDITION: "Warning in rule condition",
  LOAD_UNKNOWN_KEY: "Unknown key in item definition",
} as const;

export type LoadErrorCode = keyof typeof LOAD_ERROR_CODES;
export type LoadWarningCode = keyof typeof LOAD_WARNING_CODES;

export type ItemType = "rule" | "macro" | "list" | "required_engine_version" | "required_plugin_versions" | "exception" | "file" | "item";

/** A position in a rules file: 1-based line and column. */
export interface FilePos {
  file: string;
  line: number;
  column: number;
  /** 0-based character offset in the file, when known. */
  offset?: number;
}

export interface LoadMessage {
  code: LoadErrorCode | LoadWarningCode;
  /** Falco's short description of the code. */
  codeDesc: string;
  message: string;
  item?: { type: ItemType; name: string };
  position: FilePos;
  /** For condition problems: the condition line and a caret under the column. */
  snippet?: string;
}

export class LoadResults {
  readonly errors: LoadMessage[] = [];
  readonly warnings: LoadMessage[] = [];

  error(code: LoadErrorCode, message: string, position: FilePos, item?: LoadMessage["item"], snippet?: string): void {
    this.errors.push(build(code, LOAD_ERROR_CODES[code], message, position, item, snippet));
  }

  warn(code: LoadWarningCode, message: string, position: FilePos, item?: LoadMessage["item"], snippet?: string): void {
    this.warnings.push(build(code, LOAD_WARNING_CODES[code], message, position, item, snippet));
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }
}

function build(
  code: LoadErrorCode | LoadWarningCode,
  codeDesc: string,
  message: string,
  position: FilePos,
  item: LoadMessage["item"] | undefined,
  snippet: string | undefined,
): LoadMessage {
  const m: LoadMessage = { code, codeDesc, message, position };
  if (item) m.item = item;
  if (snippet !== undefined) m.snippet = snippet;
  return m;
}

/** One line per message, then the snippet indented: `file:line:col: error CODE rule 'x': message`. */
export function formatMessage(m: LoadMessage, kind: "error" | "warning"): string {
  const where = `${m.position.file}:${m.position.line}:${m.position.column}`;
  const what = m.item ? ` ${m.item.type} '${m.item.name}'` : "";
  let s = `${where}: ${kind} ${m.code}${what}: ${m.message}`;
  if (m.snippet) s += "\n" + m.snippet.split("\n").map((l) => `    ${l}`).join("\n");
  return s;
}

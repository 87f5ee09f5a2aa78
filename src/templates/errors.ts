import { PeregrineError } from "../errors.js";

/**
 * A template that does not compile (code TEMPLATE_INVALID) or failed while rendering
 * (TEMPLATE_RENDER_FAILED). `line` and `column` are 1-based; `message` is one line that
 * `config check` prints after the config path; `excerpt` shows the line with a caret.
 */
export class TemplateError extends PeregrineError {
  readonly template: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** What is wrong, without the location prefix. */
  readonly reason: string;
  /** The offending source line and a caret under the column (empty when unknown). */
  readonly excerpt: string;

  constructor(
    code: "TEMPLATE_INVALID" | "TEMPLATE_RENDER_FAILED",
    template: string,
    reason: string,
    where?: { line: number; column: number; source: string },
  ) {
    const at = where ? `, line ${where.line}, column ${where.column}` : "";
    super(code, `template ${template}${at}: ${reason}`);
    this.name = "TemplateError";
    this.template = template;
    this.line = where?.line;
    this.column = where?.column;
    this.reason = reason;
    this.excerpt = where ? excerptOf(where.source, where.line, where.column) : "";
  }
}

function excerptOf(source: string, line: number, column: number): string {
  const text = source.split(/\r?\n/)[line - 1];
  if (text === undefined) return "";
  const gutter = `${line} | `;
  return `${gutter}${text}\n${" ".repeat(gutter.length - 2)}| ${" ".repeat(Math.max(0, column - 1))}^`;
}

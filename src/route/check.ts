import type { ParseContext } from "../config/schema.js";
import { compileFilter, describeFilterProblem } from "./filter.js";

/**
 * `config check` for one output's routing: the filter must compile over the alert source.
 * Each problem is reported at `outputs[i].filter` with its position inside the condition.
 */
export function checkOutputRouting(output: { filter?: string | undefined }, ctx: ParseContext, path: string): void {
  if (output.filter === undefined) return;
  if (output.filter.trim() === "") {
    ctx.error(`${path}.filter`, "is empty; remove it to route every alert");
    return;
  }
  const result = compileFilter(output.filter);
  if (!result.ok) for (const p of result.errors) ctx.error(`${path}.filter`, describeFilterProblem(p));
}

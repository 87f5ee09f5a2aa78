import { s, joinPath } from "../config/schema.js";
import { checkTemplate } from "../templates/index.js";
import { compileFieldTemplate } from "./templated.js";

/** The `enrich:` section: what is added to every alert before it is journaled and routed. */
export const enrichShape = s
  .object({
    custom_fields: s
      .record(s.string())
      .default({})
      .describe("Static fields added to every alert's custom_fields (values may be ${ENV} references)."),
    custom_tags: s.array(s.string().notEmpty()).default([]).describe("Tags appended to every alert's tags (no duplicates)."),
    templated_fields: s
      .record(s.string())
      .default({})
      .describe("Fields computed per alert from a Handlebars template (docs/enrich.md), added to custom_fields."),
  })
  .refine((v, ctx, path) => {
    const templates = joinPath(path, "templated_fields");
    for (const [key, source] of Object.entries(v.templated_fields)) {
      const where = joinPath(templates, key);
      checkTemplate(ctx, where, () => compileFieldTemplate(source, where));
    }
  })
  .describe("Custom fields, tags and templated fields (see docs/enrich.md).");

export interface EnrichConfig {
  custom_fields: Record<string, string>;
  custom_tags: string[];
  templated_fields: Record<string, string>;
}

/** `oneOf` gives a config value its literal type, and the choice it matched. */
import { describe, expect, expectTypeOf, it } from "vitest";
import { ParseContext, s } from "../../src/config/schema.js";
import { webhookOutput } from "../../outputs/webhook/index.js";
import type { InferShape } from "../../src/config/schema.js";

describe("oneOf", () => {
  it("types the value as the union of its choices", () => {
    const schema = s.object({ level: s.string().oneOf(["debug", "info"]).default("info"), acl: s.string().oneOf(["private", "public"]).optional() });
    const ctx = new ParseContext();
    const v = schema.parse({ level: "debug" }, ctx, "x");
    expect(ctx.issues).toEqual([]);
    expect(v.level).toBe("debug");
    expectTypeOf(v.level).toEqualTypeOf<"debug" | "info">();
    expectTypeOf(v.acl).toEqualTypeOf<"private" | "public" | undefined>();
    // an output's config type says its choices too
    expectTypeOf<InferShape<typeof webhookOutput.schema.shape>["method"]>().toEqualTypeOf<"POST" | "PUT">();
  });

  it("with ignoreCase the value is the choice it matched, so it is one of the union", () => {
    const schema = s.string().oneOf(["warning", "error"], { ignoreCase: true });
    const ctx = new ParseContext();
    expect(schema.parse("WARNING", ctx, "p")).toBe("warning");
    expect(ctx.issues).toEqual([]);
  });

  it("an unknown choice is an error naming the choices", () => {
    const ctx = new ParseContext();
    s.string().oneOf(["json", "text"]).parse("xml", ctx, "format");
    expect(ctx.issues).toEqual([{ path: "format", message: 'must be one of json, text, got "xml"', severity: "error" }]);
  });
});

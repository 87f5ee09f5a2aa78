import { describe, expect, it } from "vitest";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import { SIDEKICK_TRANSLATORS } from "../../outputs/sidekick-registry.js";
import { createSidekickContext } from "../../outputs/sidekick-context.js";

describe("Falcosidekick translators", () => {
  it("each is keyed by a registered output type and makes outputs of that type", () => {
    for (const [type, translator] of Object.entries(SIDEKICK_TRANSLATORS)) {
      expect(OUTPUT_TYPES[type], type).toBeDefined();
      expect(translator.sections.length, type).toBeGreaterThan(0);
      // Every setting a translator could be turned on by, set at once: it must make its own type.
      const tree: Record<string, unknown> = {};
      for (const section of translator.sections)
        tree[section] = { webhookurl: "https://h/x", hostport: "h:1", topic: "t", address: "https://h/", apikey: "k", routingkey: "r", token: "t", chatid: "1", s3: { bucket: "b" }, sqs: { url: "https://sqs.us-east-1.amazonaws.com/1/q" } };
      const { ctx } = createSidekickContext(tree, {});
      const outputs = translator.translate(ctx);
      expect(outputs.length, type).toBeGreaterThan(0);
      for (const o of outputs) expect(o.type, type).toBe(type);
    }
  });

  it("a translator of a section that is not configured makes nothing and notes nothing", () => {
    const session = createSidekickContext({}, {});
    for (const translator of Object.values(SIDEKICK_TRANSLATORS)) expect(translator.translate(session.ctx)).toEqual([]);
    expect(session.notes).toEqual([]);
    expect(session.warnings).toEqual([]);
  });
});

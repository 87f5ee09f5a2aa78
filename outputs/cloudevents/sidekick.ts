import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `cloudevents` section: binary-mode events of type falco.rule.output.v1, as Peregrine sends by default. */
export const cloudeventsSidekick: SidekickTranslator = {
  sections: ["cloudevents"],
  translate(ctx) {
    if (ctx.str("cloudevents.address") === "") return [];
    const o = ctx.common("cloudevents", "cloudevents", "cloudevents");
    o.url = ctx.str("cloudevents.address");
    const extensions: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.map("cloudevents.extension"))) {
      if (/^[a-z0-9]{1,20}$/.test(k)) extensions[k] = v;
      else ctx.note(`cloudevents.extension.${k}`, "an extension name is lower-case letters and digits, at most 20 characters (CloudEvents 1.0)");
    }
    if (Object.keys(extensions).length > 0) o.extensions = extensions;
    return [o];
  },
};

import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `pagerduty` section: Events API v2, each alert its own incident (dedup_key: the alert's uuid). */
export const pagerdutySidekick: SidekickTranslator = {
  sections: ["pagerduty"],
  translate(ctx) {
    if (ctx.str("pagerduty.routingkey") === "") return [];
    const o = ctx.common("pagerduty", "pagerduty", "pagerduty");
    o.routing_key = ctx.secret("pagerduty.routingkey");
    const region = ctx.str("pagerduty.region", "us").toLowerCase();
    if (region === "eu") o.region = "eu";
    else if (region !== "us") ctx.note("pagerduty.region", `"${region}" is not us or eu; the US endpoint is used`);
    return [o];
  },
};

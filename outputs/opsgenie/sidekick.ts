import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `opsgenie` section: the Alert API, priorities P1–P5 as Falcosidekick maps them. */
export const opsgenieSidekick: SidekickTranslator = {
  sections: ["opsgenie"],
  translate(ctx) {
    if (ctx.str("opsgenie.apikey") === "") return [];
    const o = ctx.common("opsgenie", "opsgenie", "opsgenie");
    o.api_key = ctx.secret("opsgenie.apikey");
    const region = ctx.str("opsgenie.region", "us").toLowerCase();
    if (region === "eu") o.region = "eu";
    else if (region !== "us") ctx.note("opsgenie.region", `"${region}" is not us or eu; the US endpoint is used`);
    const t = ctx.tls("opsgenie");
    if (t) o.tls = t;
    return [o];
  },
};

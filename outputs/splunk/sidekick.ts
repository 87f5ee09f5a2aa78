import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `splunk` section: HEC; Falcosidekick posts to hostport with the token, without acknowledgment. */
export const splunkSidekick: SidekickTranslator = {
  sections: ["splunk"],
  translate(ctx) {
    if (ctx.str("splunk.hostport") === "") return [];
    const o = ctx.common("splunk", "splunk", "splunk");
    o.url = ctx.str("splunk.hostport").replace(/\/services\/collector(\/event)?\/?$/, "");
    o.token = ctx.secret("splunk.token");
    const t = ctx.tls("splunk");
    if (t) o.tls = t;
    return [o];
  },
};

import type { SidekickTranslator } from "../sidekick-context.js";

const DEFAULT_SITE = "https://api.datadoghq.com";

/** Falcosidekick's `datadog` section: the Events API, as Falcosidekick's datadog output. */
export const datadogSidekick: SidekickTranslator = {
  sections: ["datadog"],
  translate(ctx) {
    if (ctx.str("datadog.apikey") === "") return [];
    const o = ctx.common("datadog", "datadog", "datadog");
    o.api_key = ctx.secret("datadog.apikey");
    const host = ctx.str("datadog.host", DEFAULT_SITE).replace(/\/+$/, "");
    if (host !== DEFAULT_SITE) o.site = host;
    return [o];
  },
};

import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `webhook` section (set by `webhook.address`). */
export const webhookSidekick: SidekickTranslator = {
  sections: ["webhook"],
  translate(ctx) {
    if (ctx.str("webhook.address") === "") return [];
    const o = ctx.common("webhook", "webhook", "webhook");
    o.url = ctx.str("webhook.address");
    const method = ctx.str("webhook.method", "POST").toUpperCase();
    if (method === "POST" || method === "PUT") {
      if (method !== "POST") o.method = method;
    } else ctx.note("webhook.method", `${method} is not supported (POST or PUT)`);
    const headers = ctx.map("webhook.customheaders");
    if (Object.keys(headers).length > 0) o.headers = headers;
    const t = ctx.tls("webhook");
    if (t) o.tls = t;
    return [o];
  },
};

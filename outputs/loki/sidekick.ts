import type { SidekickTranslator } from "../sidekick-context.js";

const PUSH_PATH = "/loki/api/v1/push";

/** Falcosidekick's `loki` section (set by `loki.hostport`). */
export const lokiSidekick: SidekickTranslator = {
  sections: ["loki"],
  translate(ctx) {
    if (ctx.str("loki.hostport") === "") return [];
    const o = ctx.common("loki", "loki", "loki");
    const host = ctx.str("loki.hostport").replace(/\/+$/, "");
    const endpoint = ctx.str("loki.endpoint", PUSH_PATH);
    if (endpoint === PUSH_PATH) o.url = host;
    else if (endpoint.endsWith(PUSH_PATH)) o.url = host + endpoint.slice(0, -PUSH_PATH.length);
    else {
      o.url = host;
      ctx.note("loki.endpoint", `"${endpoint}" does not end in ${PUSH_PATH}, which Peregrine appends to url; the default is used`);
    }
    const format = ctx.str("loki.format", "text").toLowerCase();
    if (format === "json" || format === "text") o.format = format;
    const user = ctx.str("loki.user");
    const apikey = ctx.secret("loki.apikey");
    if (user !== "") o.basic_auth = { username: user, password: apikey };
    else if (apikey !== "") o.bearer_token = apikey;
    const tenant = ctx.str("loki.tenant");
    if (tenant !== "") o.tenant = tenant;
    const labels = ctx.list("loki.extralabels");
    if (labels.length > 0) o.label_fields = labels;
    const headers = ctx.map("loki.customheaders");
    if (Object.keys(headers).length > 0) o.headers = headers;
    const t = ctx.tls("loki");
    if (t) o.tls = t;
    return [o];
  },
};

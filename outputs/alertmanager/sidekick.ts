import type { SidekickContext, SidekickTranslator, TranslatedOutput } from "../sidekick-context.js";

/** Falcosidekick's default escalation of syscall-drop alerts. */
const DEFAULT_THRESHOLDS = /^10000:critical[:,]\s*1000:critical[:,]\s*100:critical[:,]\s*10:warning[:,]\s*1:warning$/;

function oneAlertmanager(ctx: SidekickContext, host: string, i: number): TranslatedOutput {
  const o = ctx.common("alertmanager", i === 0 ? "alertmanager" : `alertmanager-${i + 1}`, "alertmanager");
  o.url = host.replace(/\/+$/, "");
  const endpoint = ctx.str("alertmanager.endpoint", "/api/v2/alerts");
  if (endpoint === "/api/v1/alerts") {
    if (i === 0) ctx.note("alertmanager.endpoint", "API v1 was removed in Alertmanager 0.27; Peregrine posts to /api/v2/alerts");
  } else if (endpoint !== "/api/v2/alerts") o.endpoint = endpoint;
  const expires = Number(ctx.str("alertmanager.expiresafter", "0"));
  if (Number.isFinite(expires) && expires > 0) o.expires_after = `${expires}s`;
  const labels = ctx.map("alertmanager.extralabels");
  if (Object.keys(labels).length > 0) o.labels = labels;
  const annotations = ctx.map("alertmanager.extraannotations");
  if (Object.keys(annotations).length > 0) o.annotations = annotations;
  const severity = ctx.map("alertmanager.customseveritymap");
  if (Object.keys(severity).length > 0) o.severity_map = severity;
  const headers = ctx.map("alertmanager.customheaders");
  if (Object.keys(headers).length > 0) o.headers = headers;
  const t = ctx.tls("alertmanager");
  if (t) o.tls = t;
  return o;
}

/** Falcosidekick's `alertmanager` section: one output per host of `alertmanager.hostport`, each with its own lane. */
export const alertmanagerSidekick: SidekickTranslator = {
  sections: ["alertmanager"],
  translate(ctx) {
    const outputs = ctx.list("alertmanager.hostport").map((host, i) => oneAlertmanager(ctx, host, i));
    if (outputs.length > 0) {
      const thresholds = ctx.str("alertmanager.dropeventthresholds");
      const dropPriority = ctx.str("alertmanager.dropeventdefaultpriority", "critical");
      if ((thresholds !== "" && !DEFAULT_THRESHOLDS.test(thresholds)) || dropPriority.toLowerCase() !== "critical")
        ctx.note("alertmanager.dropeventthresholds", "the priority escalation of Falco's syscall-drop alerts is not reproduced; n_drop* fields arrive as labels unchanged");
    }
    return outputs;
  },
};

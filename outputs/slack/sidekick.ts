import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `slack` section (set by `slack.webhookurl`). */
export const slackSidekick: SidekickTranslator = {
  sections: ["slack"],
  translate(ctx) {
    if (ctx.str("slack.webhookurl") === "") return [];
    const o = ctx.common("slack", "slack", "slack");
    o.webhook_url = ctx.secret("slack.webhookurl");
    const channel = ctx.str("slack.channel");
    if (channel !== "") o.channel = channel;
    const username = ctx.str("slack.username");
    if (username !== "" && username !== "Falcosidekick") o.username = username;
    const icon = ctx.str("slack.icon");
    if (icon !== "" && !icon.includes("falcosidekick")) o.icon = icon;
    const format = ctx.str("slack.outputformat", "all").toLowerCase();
    if (["all", "text", "fields"].includes(format)) o.format = format;
    else ctx.note("slack.outputformat", `"${format}" is not all, text or fields`);
    ctx.leftOut("slack", {
      messageformat: "a Go template; Peregrine's Slack message is a Handlebars template_file (templates/slack.hbs, docs/templates.md)",
      footer: "the shipped Slack template has no footer; copy templates/slack.hbs and add one",
    });
    if (ctx.tls("slack")) ctx.note("slack.checkcert", "Slack's certificates are always checked");
    return [o];
  },
};

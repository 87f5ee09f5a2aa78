import type { SidekickContext, SidekickTranslator, TranslatedOutput } from "../sidekick-context.js";

/** What a chat service's Falcosidekick section carries besides `webhookurl`. */
export interface ChatSidekickOptions {
  /** `outputformat` (all, text, fields; Teams' facts) becomes `format`. */
  format?: boolean;
  /** `icon` becomes `icon` (unless it is Falcosidekick's own). */
  icon?: boolean;
  /** `username` becomes `username` (unless it is "Falcosidekick"). */
  username?: boolean;
  /** The client TLS settings become `tls`. */
  tls?: boolean;
  /** Settings of this service alone, after the common ones. */
  extra?(ctx: SidekickContext, o: TranslatedOutput): void;
}

/** The translator of a chat output whose Falcosidekick section is set by `SECTION.webhookurl`. */
export function chatSidekick(section: string, options: ChatSidekickOptions = {}): SidekickTranslator {
  return {
    sections: [section],
    translate(ctx) {
      if (ctx.str(`${section}.webhookurl`) === "") return [];
      const o = ctx.common(section, section, section);
      o.webhook_url = ctx.secret(`${section}.webhookurl`);
      if (options.format) {
        const f = ctx.str(`${section}.outputformat`, "all").toLowerCase();
        if (f === "all" || f === "text" || f === "fields") o.format = f;
        else if (f === "facts") o.format = "fields";
        else ctx.note(`${section}.outputformat`, `"${f}" is not all, text or fields`);
      }
      const icon = ctx.str(`${section}.icon`);
      if (options.icon && icon !== "" && !icon.includes("falcosidekick")) o.icon = icon;
      const username = ctx.str(`${section}.username`);
      if (options.username && username !== "" && username !== "Falcosidekick") o.username = username;
      options.extra?.(ctx, o);
      ctx.leftOut(section, {
        messageformat: "a Go template; Peregrine's chat messages show the output line, the fields and a digest of bursts",
        footer: "Peregrine's chat messages end with the alert's time and uuid",
      });
      if (options.tls) {
        const t = ctx.tls(section);
        if (t) o.tls = t;
      }
      return [o];
    },
  };
}

import type { SidekickTranslator } from "../sidekick-context.js";
import { DEFAULT_SUBJECT } from "./subject.js";

/**
 * Falcosidekick's `nats` section (set by `nats.hostport`): each alert published to the subject
 * its `subjecttemplate` makes (`falco.<priority>.<rule>` by default), core NATS.
 */
export const natsSidekick: SidekickTranslator = {
  sections: ["nats"],
  translate(ctx) {
    const hostport = ctx.str("nats.hostport");
    if (hostport === "") return [];
    const o = ctx.common("nats", "nats", "nats");
    o.servers = ctx.list("nats.hostport");
    const subject = ctx.str("nats.subjecttemplate");
    o.subject = subject === "" ? DEFAULT_SUBJECT : subject;
    const creds = ctx.str("nats.credsfile");
    if (creds !== "") o.creds_file = creds;
    if (ctx.bool("nats.mutualtls", false) || /^tls:\/\//.test(hostport)) o.tls = ctx.tls("nats") ?? {};
    else if (!ctx.bool("nats.checkcert", true)) o.tls = { insecure_skip_verify: true };
    ctx.leftOut("nats", {
      nkeyseedfile: "Peregrine's NATS output authenticates with a .creds file (creds_file), user/password or a token; make a .creds file from the JWT and seed",
      jwtfile: "Peregrine's NATS output authenticates with a .creds file (creds_file), user/password or a token; make a .creds file from the JWT and seed",
    });
    return [o];
  },
};

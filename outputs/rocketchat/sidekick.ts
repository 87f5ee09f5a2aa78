import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `rocketchat` section. */
export const rocketchatSidekick = chatSidekick("rocketchat", { format: true, icon: true, username: true, tls: true });

import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `discord` section. */
export const discordSidekick = chatSidekick("discord", { icon: true });

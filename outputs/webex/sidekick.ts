import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `webex` section. */
export const webexSidekick = chatSidekick("webex");

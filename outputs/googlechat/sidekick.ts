import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `googlechat` section. */
export const googlechatSidekick = chatSidekick("googlechat", { format: true });

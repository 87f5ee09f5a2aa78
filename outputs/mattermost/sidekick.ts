import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `mattermost` section. */
export const mattermostSidekick = chatSidekick("mattermost", { format: true, icon: true, username: true, tls: true });

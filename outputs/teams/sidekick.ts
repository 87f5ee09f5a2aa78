import { chatSidekick } from "../chat/sidekick.js";

/** Falcosidekick's `teams` section; its `facts` format is Peregrine's `fields`. */
export const teamsSidekick = chatSidekick("teams", {
  format: true,
  extra(ctx, o) {
    const image = ctx.str("teams.activityimage");
    if (image !== "" && !image.includes("falcosidekick")) o.activity_image = image;
  },
});

import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `telegram` section (set by `telegram.token` and `telegram.chatid`). */
export const telegramSidekick: SidekickTranslator = {
  sections: ["telegram"],
  translate(ctx) {
    const token = ctx.str("telegram.token");
    const chatId = ctx.str("telegram.chatid");
    if (token === "" || chatId === "") {
      if (token !== "" || chatId !== "") ctx.note("telegram", "needs both token and chatid; not translated");
      return [];
    }
    const o = ctx.common("telegram", "telegram", "telegram");
    o.token = ctx.secret("telegram.token");
    o.chat_id = chatId;
    ctx.leftOut("telegram", { messagethreadid: "Peregrine posts to the chat itself, not to a forum topic" });
    if (ctx.tls("telegram")) ctx.note("telegram.checkcert", "Telegram's certificates are always checked");
    return [o];
  },
};

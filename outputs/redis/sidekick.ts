import type { SidekickTranslator } from "../sidekick-context.js";

/**
 * Falcosidekick's `redis` section (set by `redis.address`): each alert's JSON RPUSHed to
 * `key` (storagetype list, the default) or HSET under its uuid (storagetype hashmap).
 */
export const redisSidekick: SidekickTranslator = {
  sections: ["redis"],
  translate(ctx) {
    const address = ctx.str("redis.address");
    if (address === "") return [];
    const o = ctx.common("redis", "redis", "redis");
    o.address = /:\d+$/.test(address) ? address : `${address}:6379`;
    const password = ctx.secret("redis.password");
    if (password !== "") o.password = password;
    const database = Number(ctx.str("redis.database", "0"));
    if (Number.isInteger(database) && database > 0) o.database = database;
    else if (!Number.isInteger(database) || database < 0) ctx.note("redis.database", `"${ctx.str("redis.database")}" is not a database number; database 0 is used`);
    const storage = ctx.str("redis.storagetype", "list").toLowerCase();
    if (storage === "hashmap") o.mode = "hashmap";
    else if (storage !== "list") ctx.note("redis.storagetype", `"${storage}" is not list or hashmap; Falcosidekick uses a list then, and so does Peregrine`);
    // Falcosidekick's default key is "falco", Peregrine's too: written out so the file says it.
    o.key = ctx.str("redis.key", "falco") || "falco";
    if (ctx.bool("redis.mutualtls", false)) o.tls = ctx.tls("redis") ?? {};
    else if (!ctx.bool("redis.checkcert", true))
      ctx.note("redis.checkcert", "applies to TLS only, which Falcosidekick's Redis output uses with mutualtls; the connection stays plain");
    return [o];
  },
};

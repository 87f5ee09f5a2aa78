/**
 * Redis (or Valkey), with ioredis: a batch is appended to a list in one RPUSH per key
 * (Falcosidekick's semantics, atomic: the whole batch or none of it), added to a stream with
 * XADD inside one MULTI/EXEC, or stored in a hash by uuid (HSET, Falcosidekick's `hashmap`).
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { tlsShape } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { checkTemplate, compileTemplate } from "../../src/templates/index.js";

/** Stream fields every entry carries besides the alert itself. */
const IDENTITY_FIELDS = ["priority", "rule", "source", "hostname", "uuid"] as const;

const schema = s.object({
  address: s.string().matches(/^[^:\s]+:\d+$/, "use host:port").describe("The server, host:port."),
  username: s.string().optional().describe("ACL user (Redis 6+); without it AUTH uses the password alone (the default user)."),
  password: s.string().optional().describe("Password (AUTH). A secret: use ${ENV} or ${file:PATH}."),
  database: s.int().range(0).default(0).describe("Database number (SELECT)."),
  mode: s
    .string()
    .oneOf(["list", "stream", "hashmap"])
    .default("list")
    .describe("list: RPUSH the alert's JSON to the key; stream: XADD an entry (alert JSON and identity fields); hashmap: HSET field uuid of the key."),
  key: s
    .string()
    .notEmpty()
    .default("falco")
    .describe("The key. May be a template over the alert (falco:{{priority}}); alerts are grouped by the key they render."),
  stream_maxlen: s
    .int()
    .range(1)
    .optional()
    .describe("mode stream: trim the stream to about this many entries (XADD MAXLEN ~)."),
  tls: tlsShape.optional(),
  connection_timeout_ms: s.duration().range(1).default(5000).describe("Time to open a connection (TCP, TLS, AUTH, SELECT)."),
  command_timeout_ms: s.duration().range(1).default(10_000).describe("Time the server has to answer one batch's commands."),
});

type RedisConfig = ReturnType<typeof schema.parse>;

export const redisOutput = defineOutput({
  type: "redis",
  summary: "Appends alerts to a Redis list (RPUSH), stream (XADD) or hash (HSET by uuid), with AUTH (ACL user) and TLS.",
  schema,
  // One RPUSH carries the whole batch: a few hundred KiB keeps a command well under Redis's limits and quick to answer.
  laneDefaults: { batch: { max_events: 1000, max_bytes: 1024 * 1024, max_wait_ms: 50 } },
  validate(config, ctx, path) {
    if (config.stream_maxlen !== undefined && config.mode !== "stream") ctx.warn(`${path}.stream_maxlen`, "applies only to mode: stream");
    if (config.username !== undefined && config.password === undefined) ctx.error(`${path}.password`, "an ACL username needs its password");
    if (config.password !== undefined && config.tls === undefined && !/^(127\.|localhost:|\[::1\])/.test(config.address))
      ctx.warn(`${path}.password`, "AUTH without tls sends the password in clear text");
    checkTemplate(ctx, `${path}.key`, () => compileTemplate(config.key, { name: `${path}.key`, escape: "none" }));
  },
  create(config, ctx) {
    const template = config.key.includes("{{") ? compileTemplate(config.key, { name: "key", escape: "none" }) : undefined;
    const keyOf = (alert: Alert): string => (template ? template.render(alert) : config.key);
    const client = new Redis(clientOptions(config));
    // ioredis reports every failed reconnect as an "error" event; the lane reports outcomes once.
    client.on("error", (err: unknown) => ctx.logger.debug({ err: errorMessage(err) }, "redis connection error"));

    /** Alerts of the batch by the key they go to, keeping their order and batch index. */
    function byKey(batch: readonly Alert[]): Map<string, { index: number; alert: Alert }[]> {
      const groups = new Map<string, { index: number; alert: Alert }[]>();
      batch.forEach((alert, index) => {
        const key = keyOf(alert);
        if (key === "") throw new Error(`the key template renders empty for alert ${alert.uuid}`);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = []));
        g.push({ index, alert });
      });
      return groups;
    }

    async function sendGroups(batch: readonly Alert[], signal: AbortSignal): Promise<SendResult> {
      let groups: Map<string, { index: number; alert: Alert }[]>;
      try {
        groups = byKey(batch);
      } catch (err) {
        return { kind: "reject", reason: `cannot build the commands: ${errorMessage(err)}` };
      }
      // One transaction: each command (an RPUSH or HSET of a whole group, or one XADD) is
      // applied or refused by itself, and the answers say which.
      const tx = client.multi();
      const owners: number[][] = [];
      for (const [key, items] of groups) {
        if (config.mode === "list") {
          tx.rpush(key, ...items.map((i) => JSON.stringify(i.alert)));
          owners.push(items.map((i) => i.index));
        } else if (config.mode === "hashmap") {
          tx.hset(key, ...items.flatMap((i) => [i.alert.uuid, JSON.stringify(i.alert)]));
          owners.push(items.map((i) => i.index));
        } else {
          for (const { index, alert } of items) {
            const fields = [...IDENTITY_FIELDS.flatMap((f) => [f, String(alert[f])]), "alert", JSON.stringify(alert)];
            if (config.stream_maxlen !== undefined) tx.xadd(key, "MAXLEN", "~", String(config.stream_maxlen), "*", ...fields);
            else tx.xadd(key, "*", ...fields);
            owners.push([index]);
          }
        }
      }
      let answers: [Error | null, unknown][] | null;
      try {
        answers = await abortable(tx.exec(), signal);
      } catch (err) {
        if (signal.aborted) return { kind: "retry", reason: `send aborted: ${errorMessage(signal.reason ?? err)}` };
        return classifyRedisError(err);
      }
      // null: the transaction was discarded (a WATCHed key changed, which this output never does).
      if (answers === null) return { kind: "retry", reason: "the transaction was discarded by the server" };
      const failed: { index: number; result: SendResult }[] = [];
      answers.forEach(([err], i) => {
        if (err) for (const index of owners[i]!) failed.push({ index, result: classifyRedisError(err) });
      });
      if (failed.length === 0) return { kind: "ok" };
      if (failed.length === batch.length && new Set(failed.map((f) => f.result.kind)).size === 1) return failed[0]!.result;
      return { kind: "partial", failed: failed.sort((a, b) => a.index - b.index) };
    }

    return {
      send: sendGroups,
      /** Connects, authenticates and selects the database: a wrong password or certificate shows here, named. */
      async healthcheck(signal) {
        try {
          await abortable(client.ping(), signal);
        } catch (err) {
          if (isAuthError(err))
            throw new Error(`Redis authentication failed${config.username ? ` for user "${config.username}"` : ""} at ${config.address}: ${errorMessage(err)}`, {
              cause: err,
            });
          throw new Error(`cannot reach Redis at ${config.address}: ${errorMessage(err)}`, { cause: err });
        }
      },
      async close() {
        await client.quit().catch(() => client.disconnect());
      },
    };
  },
});

function clientOptions(config: RedisConfig): RedisOptions {
  const [host, port] = splitAddress(config.address);
  let tls: ConnectionOptions | undefined;
  if (config.tls !== undefined) {
    const t = config.tls;
    tls = { rejectUnauthorized: !t.insecure_skip_verify, servername: host };
    if (t.ca_file) tls.ca = [readFileSync(t.ca_file)];
    if (t.cert_file) tls.cert = readFileSync(t.cert_file);
    if (t.key_file) tls.key = readFileSync(t.key_file);
  }
  return {
    host,
    port,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    db: config.database,
    ...(tls ? { tls } : {}),
    connectionName: "peregrine",
    connectTimeout: config.connection_timeout_ms,
    commandTimeout: config.command_timeout_ms,
    // The lane retries and keeps the alerts in its journal: a command fails at once while the
    // server is unreachable, instead of queuing in memory or being re-sent behind the lane's
    // back after a reconnect (which would duplicate what the lane sends again).
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // A server answering -READONLY (a replica after a failover) gets a fresh connection.
    reconnectOnError: (err) => /^READONLY/.test(err.message),
  };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at).replace(/^\[|\]$/g, ""), Number(address.slice(at + 1))];
}

function isAuthError(err: unknown): boolean {
  return /\b(WRONGPASS|NOAUTH)\b|invalid (username-)?password/i.test(errorMessage(err));
}

/**
 * A Redis error reply or a connection failure, as the lane should treat it. Server states
 * that pass (LOADING, BUSY, MASTERDOWN, TRYAGAIN, OOM, MISCONF, READONLY, CLUSTERDOWN),
 * authentication and connection failures are retried (alerts wait in the journal); a reply
 * that says the command itself cannot succeed (WRONGTYPE, a value over the server's size
 * limits, NOPERM for the key) is permanent.
 */
export function classifyRedisError(err: unknown): SendResult {
  const message = errorMessage(err);
  const reply = err instanceof Error && err.name === "ReplyError";
  const code = /^[A-Z]+/.exec(message)?.[0] ?? "";
  if (reply) {
    if (["WRONGTYPE", "NOPERM"].includes(code)) return { kind: "reject", reason: `Redis: ${message}` };
    if (code === "ERR" && /max(imum)? allowed size|too (large|big)|invalid|syntax|wrong number/i.test(message))
      return { kind: "reject", reason: `Redis: ${message}` };
    if (code === "EXECABORT") {
      // A command of the transaction was refused when queued; the reply names why.
      const inner = message.replace(/^EXECABORT[^.]*\.\s*/, "");
      return inner !== message && /^(WRONGTYPE|NOPERM|ERR)/.test(inner)
        ? classifyRedisError(Object.assign(new Error(inner), { name: "ReplyError" }))
        : { kind: "retry", reason: `Redis: ${message}` };
    }
    return { kind: "retry", reason: `Redis: ${message}` };
  }
  return { kind: "retry", reason: `Redis: ${message}` };
}

/** Rejects as soon as `signal` aborts (a command already sent cannot be taken back). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

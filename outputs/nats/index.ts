/**
 * NATS and JetStream, with the NATS project's `nats` client. Each alert is published as its
 * JSON to a subject built from the alert (Falcosidekick's `falco.<priority>.<rule>` by
 * default), with its identity in headers.
 *
 * - `nats`: core NATS publishes, then a flush (a round trip to the server): delivered means
 *   the server had them; core NATS keeps nothing for subscribers that are not listening.
 * - `jetstream`: each publish waits for the stream's acknowledgement, with the alert's uuid
 *   as `Nats-Msg-Id`, so a batch sent again after a lost answer is stored once (within the
 *   stream's duplicate window).
 */
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, headers, type ConnectionOptions, type JetStreamClient, type MsgHdrs, type NatsConnection } from "nats";
import type { Logger } from "pino";
import type { Alert } from "../../src/alert.js";
import { s, type ParseContext } from "../../src/config/schema.js";
import { tlsShape } from "../../src/delivery/http.js";
import { defineOutput, sendEach, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { compileSubject, DEFAULT_SUBJECT } from "./subject.js";

const common = {
  servers: s.array(s.string().matches(/^((nats|tls):\/\/)?[^\s/]+(:\d+)?$/, "use host:port or nats://host:port")).describe("Servers, host:port or nats://host:port."),
  subject: s
    .string()
    .notEmpty()
    .default(DEFAULT_SUBJECT)
    .describe(
      "Subject template (Falcosidekick's subjecttemplate): <priority>, <rule>, <source> and <hostname> are replaced by the alert's value, lower-cased, each run of characters other than a-z and 0-9 made one _.",
    ),
  username: s.string().optional().describe("User name (with password)."),
  password: s.string().optional().describe("Password. A secret: use ${ENV} or ${file:PATH}."),
  token: s.string().optional().describe("Authentication token. A secret."),
  creds_file: s.string().optional().describe("A .creds file (JWT and NKey seed), as NATS's decentralized auth issues them."),
  tls: tlsShape.optional(),
  connection_timeout_ms: s.duration().range(1).default(5000).describe("Time to connect to a server."),
};

const natsSchema = s.object({
  ...common,
  flush_timeout_ms: s.duration().range(1).default(10_000).describe("Time the server has to answer the flush that ends a batch."),
});
const jetstreamSchema = s.object({
  ...common,
  publish_timeout_ms: s.duration().range(1).default(10_000).describe("Time the stream has to acknowledge one alert."),
  expect_stream: s.string().optional().describe("The stream that must store the alerts: an acknowledgement from another stream is an error."),
});

type CommonConfig = ReturnType<typeof natsSchema.parse> | ReturnType<typeof jetstreamSchema.parse>;

function validateCommon(config: CommonConfig, ctx: ParseContext, path: string): void {
  if (config.servers.length === 0) ctx.error(`${path}.servers`, "needs at least one server");
  try {
    compileSubject(config.subject);
  } catch (err) {
    ctx.error(`${path}.subject`, errorMessage(err));
  }
  const modes = [config.username !== undefined || config.password !== undefined, config.token !== undefined, config.creds_file !== undefined].filter(Boolean);
  if (modes.length > 1) ctx.error(path, "use one of username/password, token or creds_file");
  if ((config.username === undefined) !== (config.password === undefined)) ctx.error(`${path}.${config.username === undefined ? "username" : "password"}`, "username and password go together");
  if (config.creds_file !== undefined) {
    try {
      readFileSync(config.creds_file);
    } catch {
      ctx.error(`${path}.creds_file`, `cannot read "${config.creds_file}"`);
    }
  }
}

/** One connection per output, opened on first use and reopened after it is closed. */
function connection(config: CommonConfig, name: string, logger: Logger) {
  let current: Promise<NatsConnection> | undefined;
  const options = (): ConnectionOptions => {
    const o: ConnectionOptions = {
      servers: config.servers,
      name: `peregrine ${name}`,
      timeout: config.connection_timeout_ms,
      // Once connected, reconnect for ever; the lane retries what fails meanwhile.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 20_000,
    };
    if (config.username !== undefined) Object.assign(o, { user: config.username, pass: config.password });
    if (config.token !== undefined) o.token = config.token;
    if (config.creds_file !== undefined) o.authenticator = credsAuthenticator(new Uint8Array(readFileSync(config.creds_file)));
    if (config.tls !== undefined) {
      const t = config.tls;
      o.tls = {
        ...(t.ca_file ? { ca: readFileSync(t.ca_file, "utf8") } : {}),
        ...(t.cert_file ? { cert: readFileSync(t.cert_file, "utf8") } : {}),
        ...(t.key_file ? { key: readFileSync(t.key_file, "utf8") } : {}),
      };
      if (t.insecure_skip_verify) (o.tls as Record<string, unknown>).rejectUnauthorized = false;
    }
    return o;
  };
  return {
    async get(): Promise<NatsConnection> {
      const open = async (): Promise<NatsConnection> => {
        const nc = await connect(options());
        void (async () => {
          for await (const st of nc.status()) logger.debug({ nats: st.type, data: String(st.data) }, "nats connection status");
        })().catch(() => undefined);
        void nc.closed().then(() => {
          if (current === p) current = undefined;
        });
        return nc;
      };
      const p = current ?? open();
      current = p;
      try {
        return await p;
      } catch (err) {
        if (current === p) current = undefined;
        throw err;
      }
    },
    async close(): Promise<void> {
      const p = current;
      current = undefined;
      if (p) await (await p.catch(() => undefined))?.drain().catch(() => undefined);
    },
  };
}

/** The alert's identity, so subscribers can filter and de-duplicate without parsing. */
function alertHeaders(alert: Alert): MsgHdrs {
  const h = headers();
  for (const f of ["priority", "rule", "source", "hostname", "uuid"] as const) h.set(`Falco-${f[0]!.toUpperCase()}${f.slice(1)}`, String(alert[f] ?? ""));
  return h;
}

/** A connection, auth or timeout failure, as the lane should treat it. */
function classify(err: unknown, what: string): SendResult {
  const message = errorMessage(err);
  const code = (err as { code?: string } | undefined)?.code;
  // JetStream refuses for good what it can never store (too large, a sealed or wrong stream).
  if (/maximum (message size|payload)|message size exceeds|MAX_PAYLOAD|expected stream does not match|stream is sealed/i.test(message))
    return { kind: "reject", reason: `${what}: ${message}` };
  if (code === "503") return { kind: "retry", reason: `${what}: no stream listens on the subject (no responders); alerts wait until one does` };
  return { kind: "retry", reason: `${what}: ${message}` };
}

async function healthcheck(conn: ReturnType<typeof connection>, config: CommonConfig): Promise<void> {
  try {
    const nc = await conn.get();
    await nc.flush();
  } catch (err) {
    const m = errorMessage(err);
    if (/AUTHORIZATION|authentication/i.test(m))
      throw new Error(`NATS authentication failed${config.username ? ` for user "${config.username}"` : ""} at ${config.servers.join(",")}: ${m}`, { cause: err });
    throw new Error(`cannot reach NATS at ${config.servers.join(",")}: ${m}`, { cause: err });
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not answered within ${ms} ms`)), ms);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}

export const natsOutput = defineOutput({
  type: "nats",
  summary: "Publishes each alert's JSON to a NATS subject built from the alert (Falcosidekick's falco.<priority>.<rule>), flushed per batch.",
  schema: natsSchema,
  laneDefaults: { batch: { max_events: 500, max_bytes: 512 * 1024, max_wait_ms: 20 } },
  validate: validateCommon,
  create(config, ctx) {
    const subjectOf = compileSubject(config.subject);
    const conn = connection(config, ctx.name, ctx.logger);
    return {
      async send(batch, signal) {
        let nc: NatsConnection;
        try {
          nc = await conn.get();
        } catch (err) {
          return classify(err, "NATS connect");
        }
        try {
          for (const alert of batch) nc.publish(subjectOf(alert), JSON.stringify(alert), { headers: alertHeaders(alert) });
          await withTimeout(nc.flush(), config.flush_timeout_ms, "NATS flush", signal);
          return { kind: "ok" };
        } catch (err) {
          if (signal.aborted) return { kind: "retry", reason: `send aborted: ${errorMessage(signal.reason ?? err)}` };
          return classify(err, "NATS publish");
        }
      },
      healthcheck: () => healthcheck(conn, config),
      close: () => conn.close(),
    };
  },
});

export const jetstreamOutput = defineOutput({
  type: "jetstream",
  summary: "Publishes each alert to a JetStream stream and waits for its acknowledgement; the alert's uuid is the Nats-Msg-Id, so resends are stored once.",
  schema: jetstreamSchema,
  laneDefaults: { batch: { max_events: 500, max_bytes: 512 * 1024, max_wait_ms: 20 } },
  validate: validateCommon,
  create(config, ctx) {
    const subjectOf = compileSubject(config.subject);
    const conn = connection(config, ctx.name, ctx.logger);
    let js: { nc: NatsConnection; js: JetStreamClient } | undefined;
    return {
      async send(batch, signal) {
        let client: JetStreamClient;
        try {
          const nc = await conn.get();
          if (js?.nc !== nc) js = { nc, js: nc.jetstream({ timeout: config.publish_timeout_ms }) };
          client = js.js;
        } catch (err) {
          return classify(err, "NATS connect");
        }
        // Publishes of a batch are in flight together; each has its own acknowledgement.
        return sendEach(batch, async (alert) => {
          try {
            const ack = await withTimeout(
              client.publish(subjectOf(alert), JSON.stringify(alert), {
                msgID: alert.uuid,
                headers: alertHeaders(alert),
                timeout: config.publish_timeout_ms,
                ...(config.expect_stream !== undefined ? { expect: { streamName: config.expect_stream } } : {}),
              }),
              config.publish_timeout_ms + 1000,
              "JetStream publish",
              signal,
            );
            if (config.expect_stream !== undefined && ack.stream !== config.expect_stream)
              return { kind: "reject", reason: `JetStream: stored by stream ${ack.stream}, not ${config.expect_stream}` };
            return { kind: "ok" };
          } catch (err) {
            if (signal.aborted) return { kind: "retry", reason: `send aborted: ${errorMessage(signal.reason ?? err)}` };
            return classify(err, "JetStream publish");
          }
        });
      },
      healthcheck: () => healthcheck(conn, config),
      close: () => conn.close(),
    };
  },
});

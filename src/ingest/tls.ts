import { unwatchFile, watchFile, type Stats } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { errorMessage } from "../errors.js";
import { readTls } from "../config/listen.js";

/** How often the TLS files are checked for a change (a rotated certificate is picked up within this). */
export const TLS_WATCH_MS = 1000;
/** How often Node checks open requests against the request timeout; its default (30 s) doubles the cut. */
const TIMEOUT_CHECK_MS = 1000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listener {
  /** For Fastify's `serverFactory`. */
  serverFactory: (handler: Handler) => Server;
  /** Stops watching the TLS files. */
  close(): void;
}

/**
 * The HTTP server under Fastify: plain HTTP, or HTTPS with `listen.tls`, optionally
 * requiring a client certificate (mTLS). Certificate, key and CA are read at start (an
 * unreadable file or a key that does not fit fails the start with LISTEN_TLS_INVALID) and
 * again whenever one changes; a broken new set is logged and the previous one kept.
 * A request whose headers and body do not arrive within `ingest.request_timeout` is cut.
 */
export function createListener(config: Config, logger: Logger): Listener {
  const timeout = config.ingest.request_timeout;
  const timeouts = {
    requestTimeout: timeout,
    headersTimeout: timeout,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    keepAliveTimeout: 65_000,
  };
  const tls = config.listen.tls;
  const cert = tls.cert;
  const key = tls.key;
  if (cert === undefined || key === undefined) {
    return {
      serverFactory: (handler) => withIdleTimeout(createHttpServer(timeouts, handler)),
      close: () => {},
    };
  }
  const files = { cert, key, ...(tls.client_ca === undefined ? {} : { ca: tls.client_ca }) };
  const mtls = tls.client_ca !== undefined;
  const first = readTls(files);
  let server: ReturnType<typeof createHttpsServer> | undefined;
  const reload = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    try {
      const next = readTls(files);
      server?.setSecureContext(next);
      logger.info({ cert, key, client_ca: tls.client_ca }, "listen.tls: certificate files changed; new connections use them");
    } catch (err) {
      logger.error({ err: errorMessage(err) }, "listen.tls: the changed files are not usable; keeping the previous certificate");
    }
  };
  const watched = Object.values(files);
  for (const f of watched) watchFile(f, { interval: TLS_WATCH_MS, persistent: false }, reload);
  return {
    serverFactory: (handler) => {
      server = createHttpsServer({ ...timeouts, ...first, requestCert: mtls, rejectUnauthorized: mtls }, handler);
      return withIdleTimeout(server);
    },
    close: () => {
      for (const f of watched) unwatchFile(f, reload);
    },
  };
}

/** A socket idle this long is closed (a client that connects and sends nothing). */
function withIdleTimeout<S extends Server>(server: S): S {
  server.setTimeout(60_000);
  return server;
}

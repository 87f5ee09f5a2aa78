/**
 * Redis from Debian's redis-server package (installed with apt-get when missing), on
 * 127.0.0.1:6379 (plain) and 6380 (TLS, with the harness's certificates). The default user
 * needs no password; the ACL user in endpoints.ts (REDIS) has one, for the AUTH tests.
 * Append-only file with fsync on every write, so what Redis acknowledged survives SIGKILL.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { certs, ensureCerts } from "../certs.js";
import { REDIS } from "../endpoints.js";
import { cachePath } from "../paths.js";
import { commandExists, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";
import { installDebianTools } from "./containerd.js";

const BINARY = "redis-server";
const HOME = cachePath("redis");
const CONFIG = join(HOME, "redis.conf");

function configText(): string {
  return `# Written by the test harness (test/harness/services/redis.ts).
bind 127.0.0.1
port ${REDIS.port}
tls-port ${REDIS.tlsPort}
tls-cert-file ${certs.serverCert}
tls-key-file ${certs.serverKey}
tls-ca-cert-file ${certs.caCert}
tls-auth-clients optional
protected-mode no
daemonize no
set-proc-title no
logfile ""
dir ${join(HOME, "data")}
save ""
appendonly yes
appendfsync always
user default on nopass ~* &* +@all
user ${REDIS.username} on >${REDIS.password} ~* &* +@all
`;
}

async function provision(): Promise<void> {
  // Debian's package, installed when missing by the installer every service shares (one apt at a time).
  if (!commandExists(BINARY)) installDebianTools(`/usr/bin/${BINARY}=${BINARY}`);
  ensureCerts();
  mkdirSync(join(HOME, "data"), { recursive: true });
  writeFileSync(CONFIG, configText());
}

/** True once the server answers PING with PONG (not -LOADING while it replays its file). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\r\n")) done(got.startsWith("+PONG"));
    });
  });
}

export const redis: ServiceDef = {
  name: "redis",
  summary: `Redis (Debian's redis-server) on 127.0.0.1:${REDIS.port}, TLS on ${REDIS.tlsPort}`,
  provision,
  spawn() {
    startDaemon({ name: "redis", command: BINARY, args: [CONFIG], marker: CONFIG });
  },
  ready: () => pong(REDIS.port),
  readyTimeoutMs: 60_000,
  ports: [REDIS.port, REDIS.tlsPort],
  env: () => ({ REDIS_ADDRESS: REDIS.address, REDIS_TLS_ADDRESS: REDIS.tlsAddress }),
};

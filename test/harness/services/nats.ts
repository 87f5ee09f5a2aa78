/**
 * nats-server, built from its Go module (pinned) with the Go toolchain and cached by version,
 * on 127.0.0.1:4222 with JetStream on (its own store directory) and monitoring on 8222.
 * Clients without credentials are the `anon` user (no_auth_user); NATS.username/password is a
 * second user of the same account, for the authentication tests. Ready once /healthz says
 * JetStream is up, not merely once the port is open.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NATS } from "../endpoints.js";
import { cachePath } from "../paths.js";
import { commandExists, HarnessError, httpOk, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

export const NATS_MODULE = "github.com/nats-io/nats-server/v2";
export const NATS_VERSION = "v2.15.3";
const HOME = cachePath("nats");
const BIN_DIR = join(HOME, NATS_VERSION);
const BIN = join(BIN_DIR, "nats-server");
const CONFIG = join(HOME, "nats.conf");

function configText(): string {
  return `# Written by the test harness (test/harness/services/nats.ts).
listen: 127.0.0.1:${NATS.port}
http: 127.0.0.1:${NATS.monitorPort}
server_name: peregrine-harness
jetstream {
  store_dir: "${join(HOME, "data")}"
  max_memory_store: 64MB
  max_file_store: 2GB
}
authorization {
  users: [
    { user: anon, password: "anon-no-password-needed" }
    { user: ${NATS.username}, password: "${NATS.password}" }
  ]
}
no_auth_user: anon
`;
}

async function provision(): Promise<void> {
  if (!existsSync(BIN)) {
    if (!commandExists("go")) throw new HarnessError("nats is built from source: install the Go toolchain (1.24 or newer)");
    note(`nats: building nats-server ${NATS_VERSION} from its Go module (first run, a few minutes)`);
    mkdirSync(BIN_DIR, { recursive: true });
    run("nice", ["-n", "10", "go", "install", `${NATS_MODULE}@${NATS_VERSION}`], { env: { ...process.env, GOBIN: BIN_DIR } });
  }
  mkdirSync(join(HOME, "data"), { recursive: true });
  writeFileSync(CONFIG, configText());
}

export const nats: ServiceDef = {
  name: "nats",
  summary: `nats-server ${NATS_VERSION} with JetStream on 127.0.0.1:${NATS.port}`,
  provision,
  spawn() {
    startDaemon({ name: "nats", command: BIN, args: ["-c", CONFIG], marker: CONFIG });
  },
  // /healthz answers 200 only once JetStream is enabled and its store is loaded.
  ready: () => httpOk(`http://127.0.0.1:${NATS.monitorPort}/healthz`),
  readyTimeoutMs: 60_000,
  ports: [NATS.port, NATS.monitorPort],
  env: () => ({ NATS_URL: NATS.url }),
};

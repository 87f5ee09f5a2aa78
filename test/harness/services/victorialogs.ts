/**
 * The Loki-protocol log store the Loki output is tested against: VictoriaLogs (Apache-2.0),
 * built from its Go module with the Go toolchain and cached. It takes Loki's push API (JSON
 * with gzip, protobuf with snappy) at /insert/loki/api/v1/push, honours X-Scope-OrgID as its
 * tenant, and answers LogsQL queries used by the tests to count what arrived.
 *
 * Grafana Loki itself is AGPL-licensed, and this project does not fetch or build it.
 *
 * Two instances: plain HTTP on 3100, and TLS + basic auth on 3101 (separate storage).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { certs, ensureCerts } from "../certs.js";
import { LOGS } from "../endpoints.js";
import { cachePath } from "../paths.js";
import { commandExists, HarnessError, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";
import { Agent, request } from "undici";

export const VICTORIALOGS_MODULE = "github.com/VictoriaMetrics/VictoriaLogs";
export const VICTORIALOGS_VERSION = "v1.52.1";
const HOME = cachePath("victorialogs");
const BIN_DIR = join(HOME, VICTORIALOGS_VERSION);
const BIN = join(BIN_DIR, "victoria-logs");

async function provision(): Promise<void> {
  if (!existsSync(BIN)) {
    if (!commandExists("go")) throw new HarnessError("victorialogs is built from source: install the Go toolchain (1.24 or newer)");
    note(`victorialogs: building ${VICTORIALOGS_VERSION} from its Go module (first run, a minute or more)`);
    mkdirSync(BIN_DIR, { recursive: true });
    // nice: the build takes a few minutes on two cores and must not starve running tests.
    run("nice", ["-n", "10", "go", "install", `${VICTORIALOGS_MODULE}/app/victoria-logs@${VICTORIALOGS_VERSION}`], {
      env: { ...process.env, GOBIN: BIN_DIR },
    });
  }
  ensureCerts();
}

function commonArgs(dataDir: string, port: number): string[] {
  return [
    `-httpListenAddr=127.0.0.1:${port}`,
    `-storageDataPath=${dataDir}`,
    "-retentionPeriod=7d",
    "-futureRetention=2d",
    // Tests read back what they wrote within a second or two.
    "-inmemoryDataFlushInterval=1s",
    "-loggerLevel=WARN",
    "-http.maxGracefulShutdownDuration=2s",
  ];
}

export const victorialogs: ServiceDef = {
  name: "victorialogs",
  summary: "VictoriaLogs (Loki push API) on 127.0.0.1:3100",
  provision,
  spawn() {
    startDaemon({ name: "victorialogs", command: BIN, args: commonArgs(join(HOME, "data"), 3100), marker: BIN });
  },
  async ready() {
    try {
      const res = await request(`${LOGS.url}/insert/loki/ready`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.text();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  },
  readyTimeoutMs: 30_000,
  ports: [3100],
};

let tlsAgent: Agent | undefined;

export const victorialogsAuth: ServiceDef = {
  name: "victorialogs-auth",
  summary: "VictoriaLogs behind TLS and basic auth on 127.0.0.1:3101",
  provision,
  spawn() {
    startDaemon({
      name: "victorialogs-auth",
      command: BIN,
      args: [
        ...commonArgs(join(HOME, "data-auth"), 3101),
        "-tls",
        `-tlsCertFile=${certs.serverCert}`,
        `-tlsKeyFile=${certs.serverKey}`,
        `-httpAuth.username=${LOGS.username}`,
        `-httpAuth.password=${LOGS.password}`,
      ],
      marker: "data-auth",
    });
  },
  async ready() {
    tlsAgent ??= new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const auth = Buffer.from(`${LOGS.username}:${LOGS.password}`).toString("base64");
      const res = await request(`${LOGS.authUrl}/insert/loki/ready`, {
        dispatcher: tlsAgent,
        headers: { authorization: `Basic ${auth}` },
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      await res.body.text();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  },
  readyTimeoutMs: 30_000,
  ports: [3101],
};

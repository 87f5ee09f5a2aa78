/**
 * An OCI registry: CNCF Distribution (`registry`, Apache-2.0), built from its Go module with
 * the Go toolchain and cached by version. `peregrine rules update` is tested against it: a
 * test pushes a Falco rulesfile artifact through the OCI distribution API and pulls it back.
 *
 * Plain HTTP on 127.0.0.1:5100, filesystem storage under the harness cache, no auth.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { cachePath } from "../paths.js";
import { commandExists, HarnessError, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

export const REGISTRY_MODULE = "github.com/distribution/distribution/v3";
export const REGISTRY_VERSION = "v3.0.0";
export const REGISTRY = { host: "127.0.0.1:5100", url: "http://127.0.0.1:5100" } as const;

const HOME = cachePath("registry");
const BIN_DIR = join(HOME, REGISTRY_VERSION);
const BIN = join(BIN_DIR, "registry");
const CONFIG = join(HOME, "config.yml");

const CONFIG_TEXT = `# Written by the test harness (test/harness/services/registry.ts).
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(join(HOME, "data"))}
  delete:
    enabled: true
http:
  addr: ${REGISTRY.host}
`;

async function provision(): Promise<void> {
  if (!existsSync(BIN)) {
    if (!commandExists("go")) throw new HarnessError("registry is built from source: install the Go toolchain (1.23 or newer)");
    note(`registry: building distribution ${REGISTRY_VERSION} from its Go module (first run, a few minutes)`);
    mkdirSync(BIN_DIR, { recursive: true });
    // nice: the build takes minutes on two cores and must not starve running tests.
    run("nice", ["-n", "15", "go", "install", `${REGISTRY_MODULE}/cmd/registry@${REGISTRY_VERSION}`], { env: { ...process.env, GOBIN: BIN_DIR } });
  }
  mkdirSync(join(HOME, "data"), { recursive: true });
  writeFileSync(CONFIG, CONFIG_TEXT);
}

export const registry: ServiceDef = {
  name: "registry",
  summary: `OCI registry (distribution ${REGISTRY_VERSION}) on ${REGISTRY.host}`,
  provision,
  spawn() {
    startDaemon({ name: "registry", command: BIN, args: ["serve", CONFIG], marker: CONFIG });
  },
  async ready() {
    // The distribution API's base endpoint answers 200 once storage is usable.
    try {
      const res = await request(`${REGISTRY.url}/v2/`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.text();
      return res.statusCode === 200 && res.headers["docker-distribution-api-version"] === "registry/2.0";
    } catch {
      return false;
    }
  },
  readyTimeoutMs: 30_000,
  ports: [5100],
};

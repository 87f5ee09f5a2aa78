/**
 * An OCI registry: CNCF Distribution (`registry`, Apache-2.0), built from its Go module with
 * the Go toolchain and cached by version. `peregrine rules update` is tested against it: a
 * test pushes a Falco rulesfile artifact through the OCI distribution API and pulls it back.
 *
 * Two instances: plain HTTP on 127.0.0.1:5100 with no auth, and on 127.0.0.1:5101 with bearer
 * token auth as public registries (ghcr.io) use it: a client that is refused gets a challenge
 * naming a token service (realm) at 127.0.0.1:5102, which the test that needs it runs; tokens
 * are JWTs signed with a key the harness generates once (REGISTRY_AUTH.keyFile).
 */
import { generateKeyPairSync } from "node:crypto";
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
const AUTH_CONFIG = join(HOME, "config-auth.yml");

export const REGISTRY_AUTH = {
  host: "127.0.0.1:5101",
  url: "http://127.0.0.1:5101",
  /** Where the registry sends clients for a token; the test serves it. */
  tokenPort: 5102,
  realm: "http://127.0.0.1:5102/token",
  service: "peregrine-test-registry",
  issuer: "peregrine-test-issuer",
  keyId: "peregrine-test-key",
  /** PEM private key the token service signs with (RS256). */
  keyFile: join(HOME, "auth", "token-key.pem"),
} as const;
const JWKS = join(HOME, "auth", "jwks.json");

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
  if (!existsSync(REGISTRY_AUTH.keyFile) || !existsSync(JWKS)) {
    mkdirSync(join(HOME, "auth"), { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(REGISTRY_AUTH.keyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
    const jwk = { ...publicKey.export({ format: "jwk" }), kid: REGISTRY_AUTH.keyId, alg: "RS256", use: "sig" };
    writeFileSync(JWKS, JSON.stringify({ keys: [jwk] }));
  }
  mkdirSync(join(HOME, "data-auth"), { recursive: true });
  writeFileSync(AUTH_CONFIG, AUTH_CONFIG_TEXT);
}

const AUTH_CONFIG_TEXT = `# Written by the test harness (test/harness/services/registry.ts).
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(join(HOME, "data-auth"))}
http:
  addr: ${REGISTRY_AUTH.host}
auth:
  token:
    realm: ${REGISTRY_AUTH.realm}
    service: ${REGISTRY_AUTH.service}
    issuer: ${REGISTRY_AUTH.issuer}
    jwks: ${JSON.stringify(JWKS)}
`;

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

export const registryAuth: ServiceDef = {
  name: "registry-auth",
  summary: `OCI registry (distribution ${REGISTRY_VERSION}) with bearer token auth on ${REGISTRY_AUTH.host}`,
  provision,
  spawn() {
    startDaemon({ name: "registry-auth", command: BIN, args: ["serve", AUTH_CONFIG], marker: AUTH_CONFIG });
  },
  async ready() {
    // Without a token the base endpoint answers 401 with the token challenge: that is ready.
    try {
      const res = await request(`${REGISTRY_AUTH.url}/v2/`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.text();
      return res.statusCode === 401 && String(res.headers["www-authenticate"] ?? "").startsWith("Bearer ");
    } catch {
      return false;
    }
  },
  readyTimeoutMs: 30_000,
  ports: [5101],
};

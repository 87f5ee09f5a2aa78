/**
 * `peregrine rules update` against a registry that hands out bearer tokens, as ghcr.io does
 * for anonymous pulls: the registry (CNCF Distribution with token auth, a harness service)
 * answers 401 with a challenge naming a token service; this test runs that token service,
 * on the fixed port the registry's config names (127.0.0.1:5102), so no other test may use it.
 */
import { randomUUID, sign, createPrivateKey } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushRulesArtifact, tarGz } from "../harness/oci-push.js";
import { start } from "../harness/services.js";
import { REGISTRY_AUTH } from "../harness/services/registry.js";
import { runCli, type CliRun } from "../harness/run-command.js";

const ROOT = resolve(import.meta.dirname, "../..");
const RUN = `${process.pid}-${Date.now()}`;
const REPO = `falcosecurity/rules/falco-rules-${RUN}`;
const PRIVATE_REPO = `private/rules-${RUN}`;
const work = mkdtempSync(join(tmpdir(), "peregrine-rules-token-"));

/** A registry token as Distribution checks it: RS256, the key id of its JWKS, issuer, audience, access. */
function token(scope: string): string {
  const key = createPrivateKey(readFileSync(REGISTRY_AUTH.keyFile));
  const [type, name, actions] = scope.split(":");
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = enc({ alg: "RS256", typ: "JWT", kid: REGISTRY_AUTH.keyId });
  const body = enc({
    iss: REGISTRY_AUTH.issuer,
    sub: "",
    aud: REGISTRY_AUTH.service,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomUUID(),
    access: [{ type, name, actions: (actions ?? "").split(",") }],
  });
  return `${head}.${body}.${sign("sha256", Buffer.from(`${head}.${body}`), key).toString("base64url")}`;
}

/** The token service: anonymous pull tokens for any repository but the private one. */
const asked: URLSearchParams[] = [];
let server: Server;

const cli = (args: string[]): Promise<CliRun> => runCli(args);

function installation(name: string): string {
  const dir = join(work, name, "falco");
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, "rules/falco"), dir, { recursive: true });
  return dir;
}

describe("rules update from a registry that asks for a bearer token", () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      asked.push(url.searchParams);
      const scope = url.searchParams.get("scope") ?? "";
      if (url.pathname !== "/token" || url.searchParams.get("service") !== REGISTRY_AUTH.service || scope.includes(PRIVATE_REPO)) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: token(scope), expires_in: 300 }));
    });
    await new Promise<void>((ok, fail) => server.once("error", fail).listen(REGISTRY_AUTH.tokenPort, "127.0.0.1", () => ok()));
    await start("registry-auth");
  }, 900_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  it("fetches an anonymous pull token from the realm the registry names, then installs", async () => {
    const rules = `${readFileSync(join(ROOT, "rules/falco/falco_rules.yaml"), "utf8")}\n# behind a token ${RUN}\n`;
    const push = { url: REGISTRY_AUTH.url, headers: { authorization: `Bearer ${token(`repository:${REPO}:pull,push`)}` } };
    const pushed = await pushRulesArtifact(push, REPO, "5", tarGz({ "falco_rules.yaml": rules }));
    asked.length = 0;

    const dir = installation("ok");
    const r = await cli(["rules", "update", `${REGISTRY_AUTH.host}/${REPO}:5`, "--plain-http", "--dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`(${pushed.manifestDigest})`);
    expect(readFileSync(join(dir, "falco_rules.yaml"), "utf8")).toBe(rules);
    // One token, asked for once, for pulling this repository only.
    expect(asked.map((p) => [p.get("service"), p.get("scope")])).toEqual([[REGISTRY_AUTH.service, `repository:${REPO}:pull`]]);
  }, 300_000);

  it("a token service that refuses: a clear error with a stable code, the folder as it was", async () => {
    const dir = installation("refused");
    const before = readFileSync(join(dir, "falco_rules.yaml"), "utf8");
    const r = await cli(["rules", "update", `${REGISTRY_AUTH.host}/${PRIVATE_REPO}:5`, "--plain-http", "--dir", dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^peregrine rules update: error RULES_UPDATE_REGISTRY_ERROR: the registry's token service 127\.0\.0\.1:5102 answered 401: anonymous pulls of private\/rules-/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(readFileSync(join(dir, "falco_rules.yaml"), "utf8")).toBe(before);
  }, 300_000);
});

/**
 * `peregrine rules update` against a real OCI registry (CNCF Distribution, run by the harness).
 * The test publishes Falco rulesfile artifacts the way falcoctl pushes them — config and layer
 * blobs, then an OCI image manifest with falcoctl's media types — with plain calls to the OCI
 * distribution API, then runs the real command line against them.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushRulesArtifact, sha256, tarGz } from "../harness/oci-push.js";
import { freePort } from "../harness/receiver.js";
import { cachePath } from "../harness/paths.js";
import { start } from "../harness/services.js";
import { REGISTRY } from "../harness/services/registry.js";
import { runCli, type CliRun } from "../harness/run-command.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SHIPPED = join(ROOT, "rules/falco");
/** Unique per run: the registry's storage outlives a run, and blobs are shared by digest. */
const RUN = `${process.pid}-${Date.now()}`;
const REPO = `falcosecurity/rules/falco-rules-${RUN}`;

const work = mkdtempSync(join(tmpdir(), "peregrine-rules-update-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[]): Promise<CliRun> => runCli(args);

/** A copy of the shipped rules/falco/ folder, as an installation has it. */
function installation(name: string): string {
  const dir = join(work, name, "falco");
  mkdirSync(dir, { recursive: true });
  cpSync(SHIPPED, dir, { recursive: true });
  return dir;
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), "utf8")]));
}

const STABLE = readFileSync(join(SHIPPED, "falco_rules.yaml"), "utf8");

describe("peregrine rules update against a real OCI registry", () => {
  beforeAll(async () => {
    await start("registry");
  }, 900_000);

  it("installs the artifact's rules atomically into the folder, with its version and digests", async () => {
    const newer = `${STABLE}\n# published ${RUN}\n`;
    const pushed = await pushRulesArtifact(REGISTRY, REPO, "5", tarGz({ "falco_rules.yaml": newer }));
    const dir = installation("ok");
    const r = await cli(["rules", "update", `${REGISTRY.host}/${REPO}:5`, "--plain-http", "--dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`installed falco-rules 5.1.1 from ${REGISTRY.host}/${REPO}:5 (${pushed.manifestDigest})`);
    expect(readFileSync(join(dir, "falco_rules.yaml"), "utf8")).toBe(newer);
    const version = readFileSync(join(dir, "VERSION"), "utf8");
    expect(version).toContain("version: 5.1.1\n");
    expect(version).toContain(`manifest ${pushed.manifestDigest}, layer ${pushed.layerDigest}`);
    expect(version).toContain(`sha256: ${sha256(newer).slice(7)}`);
    // No temporary file left beside them; the licence and README stay.
    expect(readdirSync(dir).sort()).toEqual(["LICENSE", "README.md", "VERSION", "falco_rules.yaml"]);

    // Pinned by the manifest's digest: the same artifact, already installed.
    const again = await cli(["rules", "update", `${REGISTRY.host}/${REPO}@${pushed.manifestDigest}`, "--plain-http", "--dir", dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("is already in");

    // The folder is what the detector loads: it validates as a whole.
    const v = await cli(["rules", "validate", "-r", dir]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^OK: 25 rules/);
  }, 300_000);

  it("refuses a layer whose bytes do not match its digest, and leaves the folder as it was", async () => {
    const tampered = `${STABLE}\n# tampered ${RUN}\n`;
    const pushed = await pushRulesArtifact(REGISTRY, REPO, "tampered", tarGz({ "falco_rules.yaml": tampered }));
    // A registry (or a mirror) whose stored layer changed after it was published: same size, other bytes.
    const hex = pushed.layerDigest.slice(7);
    const blob = cachePath("registry", "data", "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    expect(existsSync(blob)).toBe(true);
    const bytes = readFileSync(blob);
    const evil = Buffer.from(bytes);
    for (let i = 20; i < 40; i++) evil[i] = evil[i]! ^ 0xff;
    writeFileSync(blob, evil);

    const dir = installation("mismatch");
    const before = snapshot(dir);
    const r = await cli(["rules", "update", `${REGISTRY.host}/${REPO}:tampered`, "--plain-http", "--dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("RULES_UPDATE_DIGEST_MISMATCH");
    expect(r.stderr).toContain(`expected ${pushed.layerDigest}`);
    expect(r.stderr).toContain("unchanged");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(dir)).toEqual(before);
  }, 300_000);

  it("offline: a clear error with a stable code, exit 3, the folder as it was", async () => {
    const dir = installation("offline");
    const before = snapshot(dir);
    const closed = await freePort(); // nothing listens there any more
    const r = await cli(["rules", "update", `127.0.0.1:${closed}/${REPO}:5`, "--plain-http", "--dir", dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^peregrine rules update: error RULES_UPDATE_UNREACHABLE: cannot reach the registry 127\.0\.0\.1:\d+ \(ECONNREFUSED/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(snapshot(dir)).toEqual(before);
  }, 300_000);

  it("refuses what is not a Falco rulesfile, rules that do not load, and an unknown tag", async () => {
    const dir = installation("refused");
    const before = snapshot(dir);

    await pushRulesArtifact(REGISTRY, REPO, "plugin", tarGz({ "libx.so": "not rules" }), { name: "x" }, {
      config: "application/vnd.cncf.falco.plugin.config.v1+json",
      layer: "application/vnd.cncf.falco.plugin.layer.v1+tar.gz",
    });
    const plugin = await cli(["rules", "update", `${REGISTRY.host}/${REPO}:plugin`, "--plain-http", "--dir", dir]);
    expect(plugin.code).toBe(1);
    expect(plugin.stderr).toContain("RULES_UPDATE_NOT_RULESFILE");
    expect(plugin.stderr).toContain("application/vnd.cncf.falco.plugin.config.v1+json");

    const broken = "- rule: Broken\n  desc: d\n  condition: evt.type = execve and proc.name = (\n  output: x\n  priority: WARNING\n";
    await pushRulesArtifact(REGISTRY, REPO, "broken", tarGz({ "falco_rules.yaml": `${broken}# ${RUN}\n` }));
    const bad = await cli(["rules", "update", `${REGISTRY.host}/${REPO}:broken`, "--plain-http", "--dir", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("RULES_UPDATE_INVALID_RULES");
    expect(bad.stderr).toContain("falco_rules.yaml:3:");
    expect(bad.stderr).toContain("LOAD_ERR_COMPILE_CONDITION");

    const missing = await cli(["rules", "update", `${REGISTRY.host}/${REPO}:no-such-tag`, "--plain-http", "--dir", dir]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("RULES_UPDATE_REGISTRY_ERROR");
    expect(missing.stderr).toContain("HTTP 404");

    expect(snapshot(dir)).toEqual(before);
  }, 300_000);
});

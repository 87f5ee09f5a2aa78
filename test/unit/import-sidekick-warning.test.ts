import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { renderImport, translateSidekick } from "../../src/cli/import-sidekick.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "peregrine-import-warning-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A credential header from the environment (a warning) and a setting that is not translated
// (a note): the written file must keep both, not only the notes.
const ENV = { WEBHOOK_ADDRESS: "http://127.0.0.1:8080/falco", WEBHOOK_CUSTOMHEADERS: "Authorization:Bearer S3CRET,X-Team:sec" };
const SIDEKICK = { webhook: { minimumpriority: "warning" }, elasticsearch: { hostport: "http://es:9200" } };

describe("config import-sidekick keeps its credential warning in the YAML", () => {
  it("when other settings are not translated too", () => {
    const result = translateSidekick(SIDEKICK, ENV);
    expect(result.warnings).toHaveLength(1);
    expect(result.notes.length).toBeGreaterThan(0);
    const yaml = renderImport(result, "config.yaml");
    expect(yaml).toContain("# Warning: WEBHOOK_CUSTOMHEADERS: the Authorization header is written in clear");
    expect(yaml).toContain("# Not translated:\n#   elasticsearch");
    // Comments only: the YAML is still exactly the translated config.
    expect(parse(yaml)).toEqual(result.config);
  });

  it("in the file the command writes with -o", () => {
    const input = join(dir, "config.yaml");
    const out = join(dir, "peregrine.yaml");
    writeFileSync(input, "webhook:\n  minimumpriority: warning\nelasticsearch:\n  hostport: http://es:9200\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "config", "import-sidekick", input, "-o", out], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...ENV },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("warning: WEBHOOK_CUSTOMHEADERS");
    const written = readFileSync(out, "utf8");
    expect(written).toContain("# Warning: WEBHOOK_CUSTOMHEADERS: the Authorization header is written in clear");
    expect(written).toContain("# Not translated:");
  });
});

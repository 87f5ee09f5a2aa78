// `config import-sidekick` for Falcosidekick's nats section, and the subject template's
// semantics (Falcosidekick's tokens and slug).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { renderImport, translateSidekick } from "../../src/cli/import-sidekick.js";
import { compileSubject } from "../../outputs/nats/subject.js";
import { makeAlerts } from "../harness/alerts.js";

describe("nats subjects", () => {
  it("replaces <priority> and <rule> as Falcosidekick does: lower case, runs of other characters one _, none at the ends", () => {
    const [a] = makeAlerts(1);
    const subject = compileSubject("falco.<priority>.<rule>");
    expect(subject({ ...a!, priority: "Critical", rule: "  Write below /etc (by root)!  " })).toBe("falco.critical.write_below_etc_by_root");
    expect(compileSubject("x.<source>.<hostname>")({ ...a!, source: "syscall", hostname: "Node-1.Example" })).toBe("x.syscall.node_1_example");
  });
  it("refuses subjects NATS cannot publish to", () => {
    expect(() => compileSubject("falco..<rule>")).toThrow(/empty token/);
    expect(() => compileSubject("falco.*")).toThrow(/wildcards/);
    expect(() => compileSubject("falco.<bogus>")).toThrow(/unknown token/);
  });
});

describe("import-sidekick: nats", () => {
  it("hostport, subjecttemplate and creds file; nkey/jwt files noted; the result passes config check", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-import-nats-"));
    const creds = join(dir, "user.creds");
    writeFileSync(creds, "x");
    const { config, notes } = translateSidekick(
      { nats: { hostport: "nats://nats.example:4222", subjecttemplate: "alerts.<priority>.<rule>", credsfile: creds, nkeyseedfile: "/s.nk", minimumpriority: "error" } },
      {},
    );
    expect(config.outputs).toEqual([
      { name: "nats", type: "nats", minimum_priority: "error", servers: ["nats://nats.example:4222"], subject: "alerts.<priority>.<rule>", creds_file: creds },
    ]);
    expect(notes.map((n) => n.setting)).toEqual(["nats.nkeyseedfile"]);
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, renderImport({ config, notes }, "config.yaml"));
    const result = loadConfig(file, {});
    expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(result.config!.outputs[0]!.options).toMatchObject({ subject: "alerts.<priority>.<rule>" });
  });
  it("Sidekick's default subject from the environment alone", () => {
    const { config, notes } = translateSidekick({}, { NATS_HOSTPORT: "nats://127.0.0.1:4222" });
    expect(config.outputs).toEqual([{ name: "nats", type: "nats", servers: ["nats://127.0.0.1:4222"], subject: "falco.<priority>.<rule>" }]);
    expect(notes).toEqual([]);
  });
});

// `config import-sidekick` for Falcosidekick's aws.sqs section: the queue URL, the shared aws
// region and credentials (environment variables kept as references), and a result that
// passes `config check`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { renderImport, translateSidekick } from "../../src/cli/import-sidekick.js";

function check(config: Record<string, unknown>, notes: { setting: string; reason: string }[], env: NodeJS.ProcessEnv) {
  const file = join(mkdtempSync(join(tmpdir(), "peregrine-import-sqs-")), "peregrine.yaml");
  writeFileSync(file, renderImport({ config, notes }, "config.yaml"));
  const result = loadConfig(file, env);
  expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
  return result;
}

describe("import-sidekick: sqs", () => {
  it("the queue URL, region, minimum priority and credentials from the environment", () => {
    const env = { AWS_ACCESSKEYID: "AKIAEXAMPLE", AWS_SECRETACCESSKEY: "s3cret" };
    const url = "https://sqs.eu-west-1.amazonaws.com/123456789012/falco";
    const { config, notes } = translateSidekick({ aws: { region: "eu-west-1", sqs: { url, minimumpriority: "error" } } }, env);
    const outputs = (config.outputs as Record<string, unknown>[]).filter((o) => o.type === "sqs");
    expect(outputs).toEqual([
      {
        name: "sqs",
        type: "sqs",
        minimum_priority: "error",
        queue_url: url,
        region: "eu-west-1",
        access_key_id: "${AWS_ACCESSKEYID}",
        secret_access_key: "${AWS_SECRETACCESSKEY}",
      },
    ]);
    expect(notes).toEqual([]);
    const result = check(config, notes, env);
    expect(result.config!.outputs.find((o) => o.type === "sqs")!.options).toMatchObject({ queue_url: url, secret_access_key: "s3cret" });
  });

  it("nothing silently dropped: a role ARN is noted; no URL, no output", () => {
    const { config, notes } = translateSidekick({ aws: { rolearn: "arn:aws:iam::1:role/x", sqs: { url: "https://sqs.us-east-1.amazonaws.com/1/q" } } }, {});
    expect((config.outputs as Record<string, unknown>[]).filter((o) => o.type === "sqs")).toHaveLength(1);
    expect(notes.map((n) => n.setting)).toContain("aws.rolearn (sqs)");
    check(config, notes, {});
    const none = translateSidekick({ aws: { sqs: { minimumpriority: "debug" } } }, {}).config.outputs as Record<string, unknown>[];
    expect(none.filter((o) => o.type === "sqs")).toEqual([]);
  });
});

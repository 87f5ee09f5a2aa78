// `config import-sidekick` for Falcosidekick's redis section: its keys and environment
// variables, Sidekick's list/hashmap semantics, and a result that passes `config check`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { renderImport, translateSidekick } from "../../src/cli/import-sidekick.js";

function check(config: Record<string, unknown>, notes: { setting: string; reason: string }[], env: NodeJS.ProcessEnv) {
  const file = join(mkdtempSync(join(tmpdir(), "peregrine-import-redis-")), "peregrine.yaml");
  writeFileSync(file, renderImport({ config, notes }, "config.yaml"));
  const result = loadConfig(file, env);
  expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
  return result;
}

describe("import-sidekick: redis", () => {
  it("a list (Sidekick's default): address with its port added, key, database, password from the environment", () => {
    const env = { REDIS_PASSWORD: "s3cret", REDIS_DATABASE: "2" };
    const { config, notes } = translateSidekick({ redis: { address: "redis.example", key: "alerts", minimumpriority: "warning" } }, env);
    const outputs = config.outputs as Record<string, unknown>[];
    expect(outputs).toEqual([
      { name: "redis", type: "redis", minimum_priority: "warning", address: "redis.example:6379", password: "${REDIS_PASSWORD}", database: 2, key: "alerts" },
    ]);
    expect(notes).toEqual([]);
    const result = check(config, notes, env);
    expect(result.config!.outputs[0]!.options).toMatchObject({ mode: "list", password: "s3cret", database: 2, key: "alerts" });
  });

  it("hashmap by uuid, the default key falco, mutual TLS from the global client files", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-import-redis-tls-"));
    for (const f of ["client.crt", "client.key", "ca.crt"]) writeFileSync(join(dir, f), "x");
    const { config, notes } = translateSidekick({ mutualtlsfilespath: dir, redis: { address: "10.0.0.5:6380", storagetype: "HashMap", mutualtls: true } }, {});
    expect((config.outputs as unknown[])[0]).toEqual({
      name: "redis",
      type: "redis",
      address: "10.0.0.5:6380",
      mode: "hashmap",
      key: "falco",
      tls: { cert_file: join(dir, "client.crt"), key_file: join(dir, "client.key"), ca_file: join(dir, "ca.crt") },
    });
    check(config, notes, {});
  });

  it("nothing silently dropped: an unknown storage type and checkcert without TLS are noted; no address, no output", () => {
    const { config, notes } = translateSidekick({ redis: { address: "127.0.0.1:6379", storagetype: "set", checkcert: false } }, {});
    expect((config.outputs as Record<string, unknown>[])[0]).toMatchObject({ address: "127.0.0.1:6379", key: "falco" });
    expect(notes.map((n) => n.setting)).toEqual(["redis.storagetype", "redis.checkcert"]);
    check(config, notes, {});
    const none = translateSidekick({ redis: { key: "x" } }, {}).config.outputs as Record<string, unknown>[];
    expect(none.filter((o) => o.type === "redis")).toEqual([]);
  });
});

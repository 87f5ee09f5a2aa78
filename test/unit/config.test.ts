import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, formatIssue } from "../../src/config/index.js";

function write(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "peregrine-config-")), "peregrine.yaml");
  writeFileSync(file, yaml);
  return file;
}

describe("loadConfig", () => {
  it("gives built-in defaults without a file: port 2801, stdout output, ./data", () => {
    const r = loadConfig(undefined, {});
    expect(r.issues).toEqual([]);
    expect(r.config?.listen.port).toBe(2801);
    expect(r.config?.storage.path).toBe("./data");
    expect(r.config?.outputs.map((o) => o.type)).toEqual(["stdout"]);
    expect(r.config?.ingest.max_body_bytes).toBe(1024 * 1024);
  });

  it("warns when two Slack outputs share a webhook (their rate limits would add up), and loads", () => {
    const hook = "https://hooks.slack.com/services/T0/B0/x";
    const file = write(`outputs:
  - { name: team-a, type: slack, webhook_url: ${hook} }
  - { name: other, type: slack, webhook_url: ${hook}-other }
  - { name: team-b, type: slack, webhook_url: ${hook} }
`);
    const r = loadConfig(file, {});
    expect(r.config?.outputs.map((o) => o.name)).toEqual(["team-a", "other", "team-b"]);
    expect(r.issues.map((i) => formatIssue(i, "peregrine.yaml"))).toEqual([
      expect.stringMatching(/^warning: peregrine\.yaml:4:\d+: outputs\[2\]: sends to the same slack destination as output "team-a"/),
    ]);
  });

  it("names every problem with its path, line and a did-you-mean", () => {
    const file = write(`listen:
  prot: 80
outputs:
  - name: a
    type: webhook
    url: not-a-url
  - name: a
    type: stdout
    batch: { max_event: 3 }
`);
    const r = loadConfig(file, {});
    expect(r.config).toBeUndefined();
    const lines = r.issues.map((i) => formatIssue(i, "peregrine.yaml"));
    expect(lines).toContain('error: peregrine.yaml:2:9: listen.prot: unknown key (did you mean "port"?)');
    expect(lines.some((l) => l.includes("outputs[0].url: not a URL"))).toBe(true);
    expect(lines.some((l) => l.includes('outputs[1].name: duplicate output name "a"'))).toBe(true);
    expect(lines.some((l) => l.includes('outputs[1].batch.max_event: unknown key (did you mean "max_events"?)'))).toBe(true);
  });

  it("applies per-type lane defaults under the user's values", () => {
    const r = loadConfig(write("outputs:\n  - { name: f, type: file, path: /tmp/x.ndjson, batch: { max_wait_ms: 5 } }\n"), {});
    const f = r.config!.outputs[0]!;
    expect(f.batch).toEqual({ max_events: 1000, max_wait_ms: 5, max_bytes: 1024 * 1024 });
    expect(f.retry.initial_ms).toBe(500);
  });

  it("reads ${ENV} references and reports unset ones", () => {
    const file = write("outputs:\n  - { name: w, type: webhook, url: '${HOOK_URL}', headers: { x-key: '${KEY}' } }\n");
    const ok = loadConfig(file, { HOOK_URL: "http://127.0.0.1:9/x", KEY: "s3cret" });
    expect(ok.config?.outputs[0]?.options).toMatchObject({ url: "http://127.0.0.1:9/x", headers: { "x-key": "s3cret" } });
    const bad = loadConfig(file, { HOOK_URL: "http://127.0.0.1:9/x" });
    expect(bad.issues.map((i) => i.message)).toContain("environment variable KEY is not set");
  });

  it("lets PEREGRINE_* variables override file values, keeping types", () => {
    const file = write("listen: { port: 3000 }\noutputs:\n  - { name: my-hook, type: webhook, url: 'http://a/' }\n");
    const r = loadConfig(file, {
      PEREGRINE_LISTEN_PORT: "4000",
      PEREGRINE_INGEST_MAX_BODY_BYTES: "2MiB",
      PEREGRINE_OUTPUTS_MY_HOOK_URL: "http://b/",
      PEREGRINE_OUTPUTS_MY_HOOK_CONCURRENCY: "3",
    });
    expect(r.issues).toEqual([]);
    expect(r.config!.listen.port).toBe(4000);
    expect(r.config!.ingest.max_body_bytes).toBe(2 * 1024 * 1024);
    expect(r.config!.outputs[0]!.options.url).toBe("http://b/");
    expect(r.config!.outputs[0]!.concurrency).toBe(3);
  });

  it("PEREGRINE_OUTPUTS_* reaches the built-in stdout output; one naming no output is an error, not ignored", () => {
    const builtIn = loadConfig(undefined, { PEREGRINE_OUTPUTS_STDOUT_FORMAT: "text" });
    expect(builtIn.issues).toEqual([]);
    expect(builtIn.config!.outputs[0]!.options.format).toBe("text");

    const file = write("outputs:\n  - { name: my-hook, type: webhook, url: 'http://a/' }\n");
    const typo = loadConfig(file, { PEREGRINE_OUTPUTS_MY_HOK_URL: "http://b/" });
    expect(typo.config).toBeUndefined();
    expect(typo.issues).toHaveLength(1);
    expect(formatIssue(typo.issues[0]!, file)).toBe(
      "error: PEREGRINE_OUTPUTS_MY_HOK_URL: names no configured output; PEREGRINE_OUTPUTS_<NAME>_<KEY> takes one of: MY_HOOK (my-hook)",
    );
  });

  it("reports invalid YAML with line and column", () => {
    const r = loadConfig(write("listen:\n  port: [1,\n"), {});
    expect(r.config).toBeUndefined();
    expect(r.issues[0]!.message).toMatch(/invalid YAML/);
    expect(r.issues[0]!.line).toBeGreaterThan(0);
  });

  it("parses durations and sizes with units", () => {
    const r = loadConfig(write("storage: { max_bytes: 2GiB }\nshutdown: { drain_ms: 30s }\n"), {});
    expect(r.config!.storage.max_bytes).toBe(2 * 1024 ** 3);
    expect(r.config!.shutdown.drain_ms).toBe(30_000);
  });
});

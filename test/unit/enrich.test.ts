import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { loadConfig } from "../../src/config/index.js";
import { createEnricher, type EnrichConfig } from "../../src/enrich/index.js";

const base: Alert = {
  uuid: "5a1b6c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
  time: "2024-03-05T07:08:09.123456789Z",
  priority: "Critical",
  rule: "Read sensitive file",
  output: "file opened",
  output_fields: { "k8s.ns.name": "payments", "k8s.ns.labels.team": "blue", "proc.name": "cat" },
  source: "syscall",
  tags: ["filesystem"],
  hostname: "node-1",
};

function config(c: Partial<EnrichConfig>): EnrichConfig {
  return { custom_fields: {}, custom_tags: [], templated_fields: {}, ...c };
}

describe("createEnricher", () => {
  it("adds static custom fields and tags without touching output_fields or the input", () => {
    const enrich = createEnricher(config({ custom_fields: { cluster: "eu-1" }, custom_tags: ["prod", "filesystem"] }));
    const out = enrich(base);
    expect(out.custom_fields).toEqual({ cluster: "eu-1" });
    expect(out.tags).toEqual(["filesystem", "prod"]);
    expect(out.output_fields).toEqual(base.output_fields);
    expect(base.custom_fields).toBeUndefined();
    expect(base.tags).toEqual(["filesystem"]);
  });

  it("renders Falcosidekick-style templated fields over the output fields", () => {
    const enrich = createEnricher(
      config({
        custom_fields: { cluster: "eu-1" },
        templated_fields: {
          team: '{{ or (index . "k8s.ns.labels.team") "unknown" }}',
          owner: '{{or (index output_fields "k8s.ns.labels.owner") "nobody"}}',
          where: "{{cluster}}/{{index . \"k8s.ns.name\"}}",
          title: "{{upper priority}}: {{rule}}",
        },
      }),
    );
    expect(enrich(base).custom_fields).toEqual({ cluster: "eu-1", team: "blue", owner: "nobody", where: "eu-1/payments", title: "CRITICAL: Read sensitive file" });
    expect(enrich({ ...base, output_fields: {} }).custom_fields?.team).toBe("unknown");
  });

  it("keeps a producer's custom_fields, the configured value winning on a clash", () => {
    const enrich = createEnricher(config({ custom_fields: { cluster: "eu-1" } }));
    expect(enrich({ ...base, custom_fields: { cluster: "mine", extra: 1 } }).custom_fields).toEqual({ cluster: "eu-1", extra: 1 });
  });

  it("records a failing template on the alert's field and keeps the alert", () => {
    const errors: string[] = [];
    const enrich = createEnricher(config({ templated_fields: { day: "{{obj.boom}}", ok: "{{rule}}" } }), {
      onTemplateError: (f) => errors.push(f),
    });
    // Data from JSON cannot throw; a getter stands in for whatever may break a render.
    const obj = Object.defineProperty({}, "boom", { enumerable: true, get: () => { throw new Error("kaput"); } });
    const out = enrich({ ...base, output_fields: { ...base.output_fields, obj } as never });
    expect(out.custom_fields?.ok).toBe("Read sensitive file");
    expect(String(out.custom_fields?.day)).toMatch(/^#error: /);
    expect(errors).toEqual(["day"]);
  });

  it("is the identity when nothing is configured", () => {
    expect(createEnricher(undefined)(base)).toBe(base);
    expect(createEnricher(config({}))(base)).toBe(base);
  });
});

describe("config check of enrich: and routing keys", () => {
  function check(yaml: string, env: NodeJS.ProcessEnv = {}) {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-enrich-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, yaml);
    return loadConfig(file, env);
  }

  it("accepts a full enrich section, with ${ENV} in custom fields", () => {
    const r = check(
      ["enrich:", "  custom_fields:", "    cluster: ${CLUSTER}", "  custom_tags: [prod]", "  templated_fields:", '    team: \'{{or (index . "k8s.ns.labels.team") "unknown"}}\'', "outputs: [{name: out, type: stdout}]"].join("\n"),
      { CLUSTER: "eu-1" },
    );
    expect(r.issues).toEqual([]);
    expect(r.config?.enrich).toMatchObject({ custom_fields: { cluster: "eu-1" }, custom_tags: ["prod"] });
  });

  it("names a template error with its path, line and column", () => {
    const r = check(["enrich:", "  templated_fields:", '    team: "{{uper rule}}"', "outputs: [{name: out, type: stdout}]"].join("\n"));
    expect(r.config).toBeUndefined();
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ path: "enrich.templated_fields.team", line: 3 });
    expect(r.issues[0]!.message).toMatch(/line 1, column 1: unknown helper "uper" \(did you mean "upper"\?\)/);
  });

  it("rejects an unknown key in enrich and an unknown dedup key field", () => {
    const r = check(
      ["enrich:", "  custom_feilds: {a: b}", "outputs:", "  - name: out", "    type: stdout", "    dedup:", "      key: [rule, hostnme]"].join("\n"),
    );
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
    expect(byPath["enrich.custom_feilds"]).toMatch(/did you mean "custom_fields"/);
    expect(byPath["outputs[0].dedup.key[1]"]).toMatch(/unknown key field "hostnme" \(did you mean "hostname"\?\)/);
  });

  it("fills dedup and throttle defaults", () => {
    const r = check(["outputs:", "  - name: out", "    type: stdout", "    dedup: {}", "    throttle: {limit: 5, interval: 30s}"].join("\n"));
    expect(r.issues).toEqual([]);
    const o = r.config!.outputs[0]!;
    expect(o.dedup).toEqual({ enabled: true, window: 60_000, key: ["rule", "hostname", "output"], max_keys: 10_000 });
    expect(o.throttle).toEqual({ enabled: true, limit: 5, interval: 30_000, key: ["rule"], max_keys: 10_000 });
  });
});

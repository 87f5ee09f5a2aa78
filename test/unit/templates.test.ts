import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue, loadConfig } from "../../src/config/index.js";
import { PeregrineError } from "../../src/errors.js";
import { compileTemplate, HELPERS, TemplateError } from "../../src/templates/index.js";
import { formatTime, parseTime } from "../../src/templates/dates.js";

const alert = {
  uuid: "5a1b6c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
  time: "2024-03-05T07:08:09.123456789Z",
  priority: "Critical",
  rule: "Read sensitive file untrusted",
  output: 'File "/etc/shadow" opened by <cat> & friends',
  output_fields: { "k8s.ns.name": "prod", "proc.name": "cat", "fd.num": 3 },
  source: "syscall",
  tags: ["filesystem", "mitre_credential_access"],
  hostname: "node-1",
};

function render(source: string, context: object = alert, escape?: "json" | "html" | "none"): string {
  return compileTemplate(source, { name: "test", ...(escape ? { escape } : {}) }).render(context);
}

function compileError(source: string, options: { allowRaw?: boolean } = {}): TemplateError {
  try {
    compileTemplate(source, { name: "outputs.slack.template", ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateError);
    return err as TemplateError;
  }
  throw new Error(`expected ${JSON.stringify(source)} to fail`);
}

describe("escaping", () => {
  it("json mode keeps a JSON body valid whatever the alert holds", () => {
    const out = render('{"text": "{{output}}", "rule": {{json rule}}, "fields": {{json output_fields}} }');
    const parsed = JSON.parse(out);
    expect(parsed.text).toBe(alert.output);
    expect(parsed.rule).toBe(alert.rule);
    expect(parsed.fields).toEqual(alert.output_fields);
  });

  it("json mode escapes helper results and sub-expressions too", () => {
    const out = render('{"a": "{{upper output}}", "b": "{{default missing output}}", "c": "{{lookup output_fields "k8s.ns.name"}}"}');
    const parsed = JSON.parse(out);
    expect(parsed.a).toBe(alert.output.toUpperCase());
    expect(parsed.b).toBe(alert.output);
    expect(parsed.c).toBe("prod");
  });

  it("json mode escapes inside blocks and loops", () => {
    const ctx = { ...alert, tags: ['a"b', "c\\d"] };
    const out = render('[{{#each tags}}"{{this}}"{{#unless @last}},{{/unless}}{{/each}}]', ctx);
    expect(JSON.parse(out)).toEqual(['a"b', "c\\d"]);
  });

  it("html mode is Handlebars' escaping; none is raw", () => {
    expect(render("{{output}}", alert, "html")).toContain("&lt;cat&gt; &amp; friends");
    expect(render("{{output}}", alert, "none")).toBe(alert.output);
    expect(render("{{{output}}}", alert, "json")).toBe(alert.output);
  });

  it("a custom escape function sees every value's text", () => {
    const t = compileTemplate("<{{rule}}|{{upper hostname}}>", { name: "t", escape: (s) => s.replace(/ /g, "_") });
    expect(t.render(alert)).toBe("<Read_sensitive_file_untrusted|NODE-1>");
  });
});

describe("helpers", () => {
  it("json, upper, lower, default, truncate, join", () => {
    expect(render("{{json tags}}")).toBe('["filesystem","mitre_credential_access"]');
    expect(render("{{json nothing}}")).toBe("null");
    expect(render("{{lower priority}}")).toBe("critical");
    expect(render('{{default hostname "?"}}|{{default nope "?"}}|{{default "" "empty"}}')).toBe("node-1|?|empty");
    expect(render("{{truncate rule 10}}")).toBe("Read sens…");
    expect(render('{{truncate rule 12 " [cut]"}}')).toBe("Read s [cut]");
    expect(render("{{truncate hostname 10}}")).toBe("node-1");
    expect(render('{{join tags " / "}}')).toBe("filesystem / mitre_credential_access");
    expect(render("{{join tags}}")).toBe("filesystem, mitre_credential_access");
  });

  it("date keeps nanoseconds and formats in UTC", () => {
    expect(render("{{date time}}")).toBe("2024-03-05T07:08:09.123456789Z");
    expect(render('{{date time "YYYY-MM-DD HH:mm:ss.SSSSSS"}}')).toBe("2024-03-05 07:08:09.123456");
    expect(render('{{date time "unix"}}')).toBe(String(Date.UTC(2024, 2, 5, 7, 8, 9) / 1000));
    expect(render('{{date "2024-03-05T08:08:09+01:00" "HH:mm"}}')).toBe("07:08");
    expect(render('{{date "not a time"}}')).toBe("not a time");
  });

  it("priority colour and emoji", () => {
    expect(render("{{priority_color priority}}")).toMatch(/^#[0-9a-f]{6}$/);
    expect(render("{{priority_color priority}}")).not.toBe(render('{{priority_color "warning"}}'));
    expect(render('{{priority_emoji "warning"}}')).toBe(":warning:");
    expect(render('{{priority_emoji "nonsense"}}')).toBe(":mag:");
  });

  it("index reads keys with dots, own keys only", () => {
    expect(render('{{index output_fields "k8s.ns.name"}}')).toBe("prod");
    expect(render('{{index tags 1}}')).toBe("mitre_credential_access");
    expect(render('{{index output_fields "constructor"}}|{{index output_fields "toString"}}')).toBe("|");
  });

  it("or, and, eq, not", () => {
    expect(render('{{or missing "" hostname}}')).toBe("node-1");
    expect(render('{{or missing ""}}')).toBe("");
    expect(render('{{#if (and hostname rule)}}y{{else}}n{{/if}}{{#if (and hostname nope)}}y{{else}}n{{/if}}')).toBe("yn");
    expect(render('{{#if (eq priority "Critical")}}crit{{/if}}')).toBe("crit");
    expect(render('{{#if (eq 3 "3")}}same{{/if}}')).toBe("same");
    expect(render("{{#if (not nope)}}none{{/if}}")).toBe("none");
  });

  it("every helper is documented in docs/templates.md", () => {
    const doc = readFileSync(new URL("../../docs/templates.md", import.meta.url), "utf8");
    for (const name of Object.keys(HELPERS)) expect(doc, `docs/templates.md lacks ${name}`).toContain(`\`${name}\``);
  });
});

describe("prototype access stays off", () => {
  it("does not reach constructors or prototype members", () => {
    expect(render("[{{constructor}}][{{constructor.name}}][{{__proto__}}][{{output_fields.hasOwnProperty}}]", alert, "none")).toBe("[][][][]");
    expect(render('[{{lookup this "constructor"}}][{{#with output_fields}}{{toString}}{{/with}}]', alert, "none")).toBe("[][]");
  });

  it("a crafted payload cannot call the Function constructor", () => {
    const attack =
      '{{#with "s" as |string|}}{{#with string.constructor as |ctor|}}{{ctor.constructor "return process.exit(7)"}}{{/with}}{{/with}}';
    expect(() => compileTemplate(attack, { name: "t" })).toThrow(TemplateError);
  });
});

describe("compile errors name line and column", () => {
  it("syntax error: unclosed mustache", () => {
    const err = compileError('{\n  "text": "{{rule}",\n}');
    expect(err.code).toBe("TEMPLATE_INVALID");
    expect(err).toBeInstanceOf(PeregrineError);
    expect(err.line).toBe(2);
    expect(err.message).toMatch(/^template outputs\.slack\.template, line 2, column \d+: syntax error/);
  });

  it("mismatched block", () => {
    const err = compileError("a\nb {{#if x}}\n  c {{/each}}");
    expect(err.reason).toBe("if doesn't match each");
    expect([err.line, err.column]).toEqual([2, 6]);
    expect(err.excerpt).toBe("2 | b {{#if x}}\n  |      ^");
  });

  it("a JSON brace right after a mustache gets a hint", () => {
    const err = compileError('{"fields": {{json output_fields}}}');
    expect(err.reason).toMatch(/add a space/);
  });

  it("unknown helper with a suggestion", () => {
    const err = compileError("line one\n  {{uper rule}}");
    expect(err.reason).toBe('unknown helper "uper" (did you mean "upper"?)');
    expect([err.line, err.column]).toEqual([2, 3]);
  });

  it("unknown helper inside a sub-expression", () => {
    const err = compileError('{{#if (equals priority "x")}}{{/if}}');
    expect(err.reason).toMatch(/^unknown helper "equals"/);
    expect([err.line, err.column]).toEqual([1, 7]);
  });

  it("wrong arity", () => {
    expect(compileError("{{truncate rule}}").reason).toBe("truncate takes 2 to 3 arguments, got 1");
    expect(compileError("{{#if}}x{{/if}}").reason).toBe("if takes 1 argument, got 0");
    expect(compileError("{{upper}}").reason).toBe("upper takes 1 argument, got 0");
  });

  it("partials, decorators, log, misuse of block helpers", () => {
    expect(compileError("{{> header}}").reason).toMatch(/partials/);
    expect(compileError("{{log rule}}").reason).toMatch(/unknown helper "log"/);
    expect(compileError("{{#upper rule}}x{{/upper}}").reason).toMatch(/not a block helper/);
  });

  it("raw output can be forbidden", () => {
    expect(compileError("keys/{{{rule}}}", { allowRaw: false }).reason).toMatch(/raw output/);
    expect(compileError("keys/{{&rule}}", { allowRaw: false }).column).toBe(6);
  });

  it("render errors carry their own code", () => {
    const t = compileTemplate("{{json value}}", { name: "body" });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => t.render({ value: circular })).toThrow(TemplateError);
    try {
      t.render({ value: circular });
    } catch (err) {
      expect((err as TemplateError).code).toBe("TEMPLATE_RENDER_FAILED");
      expect((err as TemplateError).message).toMatch(/^template body: /);
    }
  });
});

describe("dates", () => {
  it("parses offsets and epoch milliseconds", () => {
    const t = parseTime("2024-01-01T00:00:00.5-02:30")!;
    expect(formatTime(t)).toBe("2024-01-01T02:30:00.5Z");
    expect(formatTime(parseTime(1_700_000_000_123)!, "YYYYMMDDTHHmmss.SSSZ")).toBe("20231114T221320.123Z");
    expect(parseTime("garbage")).toBeUndefined();
  });
});

describe("syntax error messages", () => {
  it("an unclosed block says so", () => {
    const err = compileError('{{!-- {{#each x}} in a comment --}}\n{\n  "text": "{{#each tags}}{{#if rule}}{{rule}}{{/if}}"\n}\n');
    expect(err.reason).toBe("{{#each}} is never closed with {{/each}}");
    expect([err.line, err.column]).toEqual([3, 12]);
  });
});

describe("docs/templates.md", () => {
  it("shows the error config check really prints for a template mistake", () => {
    const dir = mkdtempSync(join(tmpdir(), "tpl-doc-"));
    const file = join(dir, "peregrine.yaml");
    // The config the docs' example stands for: a webhook body whose third line misspells a helper.
    writeFileSync(
      file,
      [
        "outputs:",
        "  - name: x",
        "    type: stdout",
        "  - name: w",
        "    type: webhook",
        "    url: http://127.0.0.1:9/x",
        "    body_template: |",
        "      {",
        '        "a": "{{rule}}",',
        '        "b": "{{uper rule}}"',
        "      }",
        "",
      ].join("\n"),
    );
    const result = loadConfig(file, {});
    const printed = result.issues.map((i) => formatIssue(i, "peregrine.yaml"));
    const doc = readFileSync(new URL("../../docs/templates.md", import.meta.url), "utf8");
    const example = /```\n\s*(error: peregrine\.yaml:[^\n]*)\n/.exec(doc)?.[1];
    expect(example).toBeDefined();
    expect(printed).toEqual([example]);
  });
});

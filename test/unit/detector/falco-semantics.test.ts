/**
 * Falco's semantics where Peregrine used to differ, each case derived from the libsinsp or
 * Falco test that pins the same behaviour (named above each test: falcosecurity/libs
 * userspace/libsinsp/test/..., falcosecurity/falco unit_tests/...).
 */
import { describe, expect, it } from "vitest";
import { checkRulesOptions, k8sAuditSource, loadRules, type EventSource } from "../../../src/detector/index.js";
import { normalizeReplayEvent, replaySource, type ReplayEvent } from "../../../src/detector/sources/replay.js";
import { createSyscallSource } from "../../../src/detector/sources/syscall/source.js";
import { emptyProc, ProcessTable } from "../../../src/detector/sources/syscall/state.js";
import type { SyscallEvent } from "../../../src/detector/sources/syscall/event.js";
import { compiled } from "./helpers.js";

const source = replaySource();

function ev(fields: Record<string, unknown>): ReplayEvent {
  return normalizeReplayEvent({ time: "2026-01-01T00:00:00Z", fields: { "evt.type": "openat", ...fields } }, 1);
}

function load(text: string) {
  return loadRules({ documents: [{ name: "rules.yaml", text }], sources: [source as unknown as EventSource<never>], ruleMatching: "all" });
}

function firstError(text: string): string {
  const { results } = load(text);
  expect(results.ok).toBe(false);
  return results.errors[0]!.message;
}

const holds = (cond: string, fields: Record<string, unknown>): boolean => compiled(cond, source)(ev(fields));

describe("exceptions", () => {
  // falco unit_tests/engine/test_rule_loader.cpp, rule_override_exceptions_required_fields:
  // "when appending, it's fine to provide partial exception definitions" (values without fields);
  // for a multi-field exception each appended value is a list, one item per field
  const base = `
- rule: test_rule
  desc: d
  condition: evt.type = openat
  output: "%proc.name %fd.name"
  priority: INFO
  exceptions:
    - name: proc_file
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /etc/]
`;

  it("override exceptions: append with values for an existing multi-field exception loads and applies", () => {
    const { ruleset, results } = load(`${base}
- rule: test_rule
  exceptions:
    - name: proc_file
      values:
        - [vi, /tmp/]
  override:
    exceptions: append
`);
    expect(results.errors).toEqual([]);
    const fired = (fields: Record<string, unknown>) => ruleset.evaluate(source, ev(fields)).length;
    expect(fired({ "proc.name": "cat", "fd.name": "/etc/passwd" })).toBe(0);
    expect(fired({ "proc.name": "vi", "fd.name": "/tmp/x" })).toBe(0);
    expect(fired({ "proc.name": "vi", "fd.name": "/etc/passwd" })).toBe(1);
  });

  it("an appended value of the wrong shape is refused against the existing exception's fields", () => {
    expect(
      firstError(`${base}
- rule: test_rule
  exceptions:
    - name: proc_file
      values: [vi]
  override:
    exceptions: append
`),
    ).toMatch(/expected values array to contain a list of values, one per field/);
  });
});

describe("evt.rawarg", () => {
  // libs test/filter_op_numeric_compare.ut.cpp: "evt.rawarg.res < -1" true, "evt.rawarg.res > 0" false
  // libs test/filterchecks/evt/rawarg.cpp: "evt.rawarg.size < -20" true for -22
  it("compares numerically when the argument is a number", () => {
    expect(holds("evt.rawarg.res < -1", { "evt.rawarg.res": -22 })).toBe(true);
    expect(holds("evt.rawarg.res > 0", { "evt.rawarg.res": -22 })).toBe(false);
    expect(holds("evt.rawarg.res > -65535", { "evt.rawarg.res": -22 })).toBe(true);
    expect(holds("evt.rawarg.uid > 999", { "evt.rawarg.uid": 1000 })).toBe(true);
    expect(holds("evt.rawarg.uid in (0, 1000)", { "evt.rawarg.uid": 1000 })).toBe(true);
    // a text argument still compares as text
    expect(holds("evt.rawarg.name = /etc/passwd", { "evt.rawarg.name": "/etc/passwd" })).toBe(true);
  });
});

describe("pmatch", () => {
  // libs test/filter_op_pmatch.ut.cpp, fd.name = /opt/dir/subdir/file.txt
  it("matches glob prefixes one path component at a time", () => {
    const f = { "fd.name": "/opt/dir/subdir/file.txt" };
    expect(holds("fd.name pmatch (/opt/dir)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/dir2)", f)).toBe(false);
    expect(holds("fd.name pmatch (/opt/*)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/*/subdir)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/di?/subdir)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/dii?/subdir)", f)).toBe(false);
    expect(holds("fd.name pmatch (/opt/di[r]/subdir)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/di[!r]/subdir)", f)).toBe(false);
    expect(holds("fd.name pmatch (/opt/di/subdir)", f)).toBe(false);
    expect(holds("fd.name pmatch (/opt/*/subdir2)", f)).toBe(false);
    expect(holds("fd.name pmatch (/opt/*/*)", f)).toBe(true);
    expect(holds("fd.name pmatch (/opt/*/*/subsubdir)", f)).toBe(false);
  });
});

describe("what Falco refuses", () => {
  // libsinsp reads numbers with sscanf("%d%c") (utils.cpp, sinsp_numparser): "0x10 is not a valid number"
  it("hex and fractional numbers", () => {
    expect(() => compiled("fd.num <= 0x10", source)).toThrow(/^0x10 is not a valid number$/);
    expect(() => compiled("fd.num < 1.5", source)).toThrow(/^1.5 is not a valid number$/);
    expect(holds("fd.num <= 16", { "fd.num": 7 })).toBe(true);
  });

  // libs test/filter_compiler.ut.cpp, filter_different_types: "syscall.type = val(evt.is_wait)" fails
  it("val() of a field of another type", () => {
    expect(() => compiled("proc.name = val(proc.pid)", source)).toThrow(
      "field 'proc.name' has type 'CHARBUF' while the right-hand side field 'proc.pid' has incompatible type 'INT64'",
    );
    expect(holds("proc.name = val(proc.pname)", { "proc.name": "a", "proc.pname": "a" })).toBe(true);
  });

  // libs test/filter_compiler.ut.cpp, filter_not_supported_transformers: "toupper(evt.rawarg.res) = -1"
  // fails; proc.aname carries EPF_NO_TRANSFORMER like evt.rawarg (sinsp_filtercheck_thread.cpp)
  it("a transformer on a field that takes none", () => {
    expect(() => compiled("toupper(proc.aname) = BASH", source)).toThrow("field 'proc.aname' does not support transformers");
    expect(() => compiled("toupper(evt.rawarg.res) = -1", source)).toThrow("field 'evt.rawarg' does not support transformers");
    expect(holds("toupper(proc.name) = BASH", { "proc.name": "bash" })).toBe(true);
  });
});

describe("output", () => {
  const rule = (output: string, extra = "") => `
- rule: r
  desc: d
  condition: evt.type = openat
  output: ${output}
  priority: INFO
  tags: [zeta, alpha, mitre, alpha]
${extra}`;
  const alert = (text: string, fields: Record<string, unknown> = {}) => {
    const { ruleset, results } = load(text);
    expect(results.errors).toEqual([]);
    const [a] = ruleset.evaluate(source, ev({ "proc.name": "init", "proc.aname": ["bash", "sshd", "systemd"], ...fields }));
    return a!;
  };
  const message = (a: { output: string }) => a.output.replace(/^\S+: Informational /, "");

  // falco rule_loader_reader.cpp trims a rule's output
  it("an output: > block loses its trailing newline", () => {
    const a = alert(rule(">\n    opened by %proc.name\n"));
    expect(message(a)).toBe("opened by init");
  });

  // libs test/eventformatter.ut.cpp, continue_on_null: a leading '*' is the formatter's flag, not text
  it("a leading * is not printed", () => {
    expect(message(alert(rule('"*opened by %proc.name"')))).toBe("opened by init");
  });

  // libs test/eventformatter.ut.cpp, lenght_shorter / lenght_larger: "start %2proc.name end" is
  // "start in end", "%10proc.name" pads to 10; the field's value is whole in output_fields
  it("%Nfield cuts or pads the value to N characters", () => {
    const a = alert(rule('"start %2proc.name end"'));
    expect(message(a)).toBe("start in end");
    expect(a.output_fields["proc.name"]).toBe("init");
    expect(message(alert(rule('"start %10proc.name end"')))).toBe("start init       end");
  });

  // libsinsp sinsp_filtercheck_thread.cpp (TYPE_ANAME without an index): every ancestor, joined by spaces
  it("%proc.aname prints the ancestors separated by spaces", () => {
    const a = alert(rule('"chain=%proc.aname parent=%proc.aname[1]"'));
    expect(message(a)).toBe("chain=bash sshd systemd parent=bash");
    expect(a.output_fields["proc.aname"]).toBe("bash sshd systemd");
  });

  // falco formats.cpp: an alert's tags are a std::set<std::string>
  it("tags are sorted, each once", () => {
    expect(alert(rule('"x %proc.name"')).tags).toEqual(["alpha", "mitre", "zeta"]);
  });
});

describe("append_output suggested_output", () => {
  // falco userspace/falco/app/actions/init_falco_engine.cpp (add_suggested_output) and falco.yaml's
  // default `append_output: [{suggested_output: true}]`; the suggested fields are the container
  // plugin's (plugins/container/src/caps/extract/extract.cpp)
  it("appends name_with_underscores=%name for each suggested field the source has", () => {
    const text = `
- rule: r
  desc: d
  condition: evt.type = openat
  output: opened %fd.name
  priority: INFO
- rule: k
  desc: d
  condition: ka.verb = create
  output: created
  priority: INFO
  source: k8s_audit
`;
    const { ruleset, results } = loadRules({
      documents: [{ name: "rules.yaml", text }],
      sources: [source as unknown as EventSource<never>, k8sAuditSource as unknown as EventSource<never>],
      appendOutput: [{ suggested_output: true }],
    });
    expect(results.errors).toEqual([]);
    const [a] = ruleset.evaluate(source, ev({ "fd.name": "/etc/x", "container.id": "host", "container.name": "host" }));
    expect(a!.output.replace(/^\S+: Informational /, "")).toBe(
      "opened /etc/x container_id=host container_name=host container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>",
    );
    expect(a!.output_fields["container.id"]).toBe("host");
    // the k8s_audit source has no suggested fields: its output is unchanged
    const k = ruleset.rules.find((r) => r.name === "k")!;
    expect(k.output.keys).toEqual([]);
    expect(checkRulesOptions({ appendOutput: [{ suggested_output: "yes" } as never] })).toEqual(["append_output[0].suggested_output: must be true or false"]);
  });
});

describe("transformers in exceptions (Falco >= 0.38)", () => {
  // falco unit_tests/engine/test_rule_loader.cpp, s_exception_values_rule_base with
  // exceptions_values_rhs_transformer, exceptions_values_transformer_value_quoted,
  // exceptions_values_transformer_space and exceptions_fields_transformer(_quoted)
  const base = (exception: string) => `
- rule: test_rule
  desc: test rule
  condition: evt.type = openat
  output: command=%proc.cmdline
  priority: INFO
  exceptions:
${exception}`;
  const fires = (text: string, fields: Record<string, unknown>) => {
    const { ruleset, results } = load(text);
    expect(results.errors).toEqual([]);
    return ruleset.evaluate(source, ev(fields)).length === 1;
  };

  it("a transformer in values compares with the field it reads, quoted or not", () => {
    for (const value of ["toupper(proc.pname)", '"toupper(proc.pname)"']) {
      const text = base(`    - name: test_exception\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [${value}]\n`);
      expect(fires(text, { "proc.name": "BASH", "proc.pname": "bash" })).toBe(false);
      expect(fires(text, { "proc.name": "BASH", "proc.pname": "sh" })).toBe(true);
      expect(load(text).ruleset.rules[0]!.condition).toContain("proc.name = toupper(proc.pname)");
    }
  });

  it("a value with a blank stays text", () => {
    const text = base(`    - name: test_exception\n      fields: [proc.name]\n      comps: [=]\n      values:\n        - [toupper( proc.pname)]\n`);
    expect(fires(text, { "proc.name": "toupper( proc.pname)" })).toBe(false);
    expect(fires(text, { "proc.name": "BASH", "proc.pname": "bash" })).toBe(true);
  });

  it("a transformer in fields loads and applies", () => {
    for (const field of ["tolower(proc.name)", '"tolower(proc.name)"']) {
      const text = base(`    - name: test_exception\n      fields: [${field}]\n      comps: [=]\n      values:\n        - [test]\n`);
      expect(fires(text, { "proc.name": "TEST" })).toBe(false);
      expect(fires(text, { "proc.name": "other" })).toBe(true);
    }
  });
});

describe("positional evt.arg[N]", () => {
  // libs test/filter_compiler.ut.cpp ("evt.arg[1] = /test/dir") and test/filter_parser.ut.cpp
  // ("evt.arg[0] = value"): N is the parameter's position in the event (libscap's event table)
  it("replayed events: the N-th parameter of the event type, [0] the result", () => {
    const open = { "evt.type": "openat", "evt.arg.dirfd": "-100", "evt.arg.name": "/etc/passwd", "evt.rawarg.flags": 65, "evt.rawres": 3 };
    expect(holds("evt.arg[1] = -100", open)).toBe(true);
    expect(holds("evt.arg[2] = /etc/passwd", open)).toBe(true);
    expect(holds("evt.rawarg[3] = 65", open)).toBe(true);
    expect(holds("evt.rawarg[0] = 3", open)).toBe(true);
    // connect's exit event is (res, tuple, fd, addr)
    expect(holds("evt.arg[2] = 7", { "evt.type": "connect", "evt.arg.fd": "7" })).toBe(true);
  });

  it("the live source: the same positions over the sensor's named parameters", () => {
    const proc = { ...emptyProc(42), comm: "cat" };
    const table = new ProcessTable({ read: () => proc });
    const live = createSyscallSource({ table, users: { userName: () => "root", groupName: () => "root" }, bootOffsetNs: () => 0n, hostname: "h" });
    const event = {
      num: 1, type: "openat", spec: undefined, tsBoot: 0, tid: 42, ret: 3, uid: 0, gid: 0, proc, fd: undefined, fdNum: 3, fdNameChanged: true,
      argNames: ["dirfd", "name", "flags", "mode"], argValues: [-100, "/etc/passwd", 0, 0], flags: 0,
    } as unknown as SyscallEvent;
    const get = (field: string, arg: string) => live.extractor(field, arg)!(event);
    expect(get("evt.arg", "2")).toBe("/etc/passwd");
    expect(get("evt.rawarg", "1")).toBe(-100);
    expect(get("evt.rawarg", "0")).toBe(3);
    expect(get("evt.arg", "name")).toBe("/etc/passwd");
    expect(get("evt.arg", "9")).toBeUndefined();
  });
});

describe("the time prefix", () => {
  // falco userspace/engine/formats.cpp (format_event): the prefix is "*%evt.time: " or, with
  // time_format_iso_8601, "*%evt.time.iso8601: ", and the prefix's fields join output_fields;
  // libs sinsp_filtercheck_gen_event.cpp (extract_as_js): evt.time* fields are nanoseconds in JSON
  const text = `
- rule: r
  desc: d
  condition: evt.type = openat
  output: at %evt.time by %proc.name
  priority: INFO
`;
  const run = (iso?: boolean) => {
    const { ruleset } = loadRules({ documents: [{ name: "r.yaml", text }], sources: [source as unknown as EventSource<never>], ...(iso === undefined ? {} : { timeFormatIso8601: iso }) });
    return ruleset.evaluate(source, normalizeReplayEvent({ time: "2026-12-07T21:14:11.104Z", fields: { "evt.type": "openat", "proc.name": "cat" } }, 1))[0]!;
  };

  it("Falco's default: the local clock time, and evt.time in nanoseconds", () => {
    const a = run();
    const local = new Date(Date.parse("2026-12-07T21:14:11Z"));
    const hhmmss = [local.getHours(), local.getMinutes(), local.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
    expect(a.output).toBe(`${hhmmss}.104000000: Informational at 2026-12-07T21:14:11.104Z by cat`);
    expect(a.output_fields["evt.time"]).toBe(1796678051104000000);
    expect(a.output_fields["evt.time.iso8601"]).toBeUndefined();
    expect(a.time).toBe("2026-12-07T21:14:11.104Z");
  });

  it("time_format_iso_8601: UTC ISO 8601 with nanoseconds and +0000", () => {
    const a = run(true);
    expect(a.output).toBe("2026-12-07T21:14:11.104000000+0000: Informational at 2026-12-07T21:14:11.104Z by cat");
    expect(a.output_fields["evt.time.iso8601"]).toBe(1796678051104000000);
    // a time field the output names is nanoseconds in output_fields too
    expect(a.output_fields["evt.time"]).toBe(1796678051104000000);
  });
});

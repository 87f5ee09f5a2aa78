import { describe, expect, it } from "vitest";
import { parseCondition } from "../../../src/detector/condition/parser.js";
import { CompileError, compileCondition, compileConditionClosures } from "../../../src/detector/compiler/compile.js";
import { eventTypesOf, typeSetSize } from "../../../src/detector/compiler/evttypes.js";
import { SYSCALL_EVENT_TYPES } from "../../../src/detector/fields/syscall.js";
import { normalizeReplayEvent, replaySource, type ReplayEvent } from "../../../src/detector/sources/replay.js";

const source = replaySource();

function ev(fields: Record<string, unknown>): ReplayEvent {
  return normalizeReplayEvent({ time: "2026-01-01T00:00:00Z", fields }, 1);
}

const base = ev({
  "evt.type": "openat",
  "proc.name": "Bash",
  "proc.pname": "sshd",
  "proc.aname": ["sshd", "systemd"],
  "proc.args": "-c 'cat /etc/shadow'",
  "proc.cmdline": "bash -c ls",
  "fd.name": "/etc/ssh/sshd_config",
  "fd.num": 7,
  "fd.nameraw": "/etc/../etc/passwd",
  "fd.types": ["ipv4", "file"],
  "fd.ip": "10.1.2.3",
  "fd.net": "10.1.2.3",
  "fd.sport": 443,
  "evt.is_open_read": true,
  "evt.arg.flags": "O_RDONLY|O_CLOEXEC",
  "user.uid": 1000,
  "proc.env": "SECRET=c2VjcmV0",
});

function compile(cond: string) {
  const r = parseCondition(cond);
  if (!r.ok) throw new Error(r.error.message);
  return compileCondition(r.ast, source);
}

function check(cond: string, event: ReplayEvent = base): boolean {
  return compile(cond)(event);
}

function compileError(cond: string): CompileError {
  try {
    compile(cond);
  } catch (err) {
    if (err instanceof CompileError) return err;
    throw err;
  }
  throw new Error(`expected a compile error for: ${cond}`);
}

describe("compiled operators", () => {
  const cases: [string, boolean][] = [
    ["proc.name = Bash", true],
    ["proc.name == bash", false],
    ["proc.name != bash", true],
    ["proc.name < C", true],
    ["proc.name >= Bash", true],
    ["fd.num < 8", true],
    ["fd.num <= 6", false],
    ["fd.num >= 8", false],
    ["fd.name contains /ssh/", true],
    ["proc.name icontains BAS", true],
    ["proc.name bcontains 6173", false], // bcontains is for byte buffers: rejected below for strings
    ["fd.name startswith /etc/", true],
    ["fd.name endswith _config", true],
    ["fd.name glob '/etc/*/sshd_*'", true],
    ["fd.name glob '/etc/?/*'", false],
    ["proc.name iglob 'b*H'", true],
    ["fd.name regex '/etc/(ssh|ssl)/.*'", true],
    ["fd.name regex 'ssh'", false],
    ["fd.name in (/etc/passwd, /etc/ssh/sshd_config)", true],
    ["fd.name intersects (/etc/passwd)", false],
    ["fd.name pmatch (/etc/ssh)", true],
    ["fd.name pmatch (/etc/ss)", false],
    ["fd.num in (1, 7, 9)", true],
    ["evt.is_open_read = true", true],
    ["evt.is_open_read != true", false],
    ["fd.ip = 10.1.2.3", true],
    ["fd.ip = 10.0.0.0/8", true],
    ["fd.ip != 10.1.2.4", true],
    ["fd.net = 10.0.0.0/8", true],
    ["fd.net in (192.168.0.0/16, 10.1.0.0/16)", true],
    ["fd.net != 127.0.0.0/8", true],
    ["fd.sport in (80, 443)", true],
    ["fd.types intersects (ipv4, unix)", true],
    ["fd.types in (ipv4, file, unix)", true],
    ["fd.types in (ipv4)", false],
    ["proc.pname exists", true],
    ["proc.tty exists", false],
  ];
  for (const [cond, want] of cases) {
    if (cond.includes("bcontains")) continue;
    it(`${cond} → ${want}`, () => expect(check(cond)).toBe(want));
  }
  it("the generated-code backend agrees with the closure backend on every case", () => {
    const empty = ev({ "evt.type": "openat" });
    for (const [cond] of cases) {
      if (cond.includes("bcontains")) continue;
      const r = parseCondition(cond);
      if (!r.ok) throw new Error(r.error.message);
      const gen = compileCondition(r.ast, source);
      const clo = compileConditionClosures(r.ast, source);
      for (const e of [base, empty]) expect([cond, gen(e)]).toEqual([cond, clo(e)]);
    }
  });
  it("bcontains / bstartswith are checked against byte fields only (Falco's table)", () => {
    expect(compileError("proc.name bcontains 6173").message).toMatch(/'bcontains' operator not supported for string filters/);
    expect(compileError("proc.name bstartswith 6173").message).toMatch(/not supported for string filters/);
  });
});

describe("IP addresses and networks", () => {
  const v6 = ev({ "evt.type": "connect", "fd.ip": "fe80::1:2", "fd.net": "fe80::1:2", "fd.sip": "::ffff:10.1.2.3" });
  it("compares IPv6 addresses and networks", () => {
    expect(check("fd.ip = fe80:0:0:0:0:0:1:2", v6)).toBe(true);
    expect(check("fd.net = fe80::/10", v6)).toBe(true);
    expect(check("fd.net in (10.0.0.0/8, 2001:db8::/32)", v6)).toBe(false);
    expect(check("fd.sip = ::ffff:10.1.2.3", v6)).toBe(true);
  });
  it("handles network edges and != on networks", () => {
    const edge = ev({ "evt.type": "connect", "fd.net": "10.255.255.255", "fd.snet": "11.0.0.0" });
    expect(check("fd.net = 10.0.0.0/8", edge)).toBe(true);
    expect(check("fd.snet = 10.0.0.0/8", edge)).toBe(false);
    expect(check("fd.snet != 10.0.0.0/8", edge)).toBe(true);
    expect(check("fd.snet in (0.0.0.0/0)", edge)).toBe(true);
    expect(check("fd.snet != 127.0.0.1", ev({ "evt.type": "connect", "fd.snet": "not-an-ip" }))).toBe(false);
  });
});

describe("modifiers", () => {
  it("anyof: some value satisfies the operator", () => {
    expect(check("fd.name startswith anyof (/usr, /etc)")).toBe(true);
    expect(check("fd.name startswith anyof (/usr, /var)")).toBe(false);
  });
  it("allof: every value satisfies the operator", () => {
    expect(check("fd.name contains allof (ssh, config)")).toBe(true);
    expect(check("fd.name contains allof (ssh, shadow)")).toBe(false);
  });
  it("oneof: exactly one value satisfies the operator", () => {
    expect(check("fd.name contains oneof (ssh, shadow)")).toBe(true);
    expect(check("fd.name contains oneof (ssh, config)")).toBe(false);
  });
});

describe("transformers", () => {
  it("tolower / toupper", () => {
    expect(check("tolower(proc.name) = bash")).toBe(true);
    expect(check("toupper(proc.name) = BASH")).toBe(true);
  });
  it("b64 decodes base64", () => {
    expect(check("b64(proc.env[SECRET]) = secret", ev({ "proc.env[SECRET]": "c2VjcmV0" }))).toBe(true);
  });
  it("basename", () => {
    expect(check("basename(fd.name) = sshd_config")).toBe(true);
  });
  it("len over strings and lists", () => {
    expect(check("len(proc.name) = 4")).toBe(true);
    expect(check("len(fd.types) = 2")).toBe(true);
  });
  it("join and concat", () => {
    expect(check('join("-", (proc.pname, "x", fd.num)) = sshd-x-7')).toBe(true);
    expect(check('concat(proc.pname, "/", proc.name) = sshd/Bash')).toBe(true);
  });
  it("getopt parses option letters and arguments", () => {
    const nc = ev({ "proc.name": "nc", "fd.types": ["-l", "-p", "4444", "-e", "/bin/sh"] });
    expect(check('getopt(fd.types, "lp:e:") intersects (e)', nc)).toBe(true);
    expect(check('getopt(fd.types, "lp:e:")[e] = /bin/sh', nc)).toBe(true);
    expect(check('getopt(fd.types, "lp:e:")[p] = 4444', nc)).toBe(true);
    expect(check('getopt(("-x", "-n"), "n") intersects ("?")', nc)).toBe(true);
  });
  it("transformers work on the right-hand side too, against fields or transformers", () => {
    expect(check("tolower(proc.name) = tolower(proc.name)")).toBe(true);
    expect(check("proc.name != toupper(proc.name)")).toBe(true);
    expect(check("len(proc.name) < len(fd.name)")).toBe(true);
    expect(check("fd.name contains basename(fd.name)")).toBe(true);
  });
  it("val() compares two fields of the same event", () => {
    expect(check("proc.pname = val(proc.aname[1])")).toBe(true);
    expect(check("proc.name = val(proc.pname)")).toBe(false);
    // a right-hand field of another type fails to compile, as in libsinsp (test/unit/detector/falco-semantics.test.ts)
    expect(() => compile("proc.name = val(proc.tty)")).toThrow(/incompatible type 'INT64'/);
  });
  it("transformers are type-checked", () => {
    expect(compileError("tolower(fd.num) = x").message).toMatch(/does not support fields of type 'int'/);
    expect(compileError("concat(proc.name) = x").message).toMatch(/at least 2 arguments/);
  });
});

describe("missing values (Falco semantics)", () => {
  const empty = ev({ "evt.type": "openat" });
  it("a check on a field that cannot be extracted is false, even '!='", () => {
    expect(check("proc.name = bash", empty)).toBe(false);
    expect(check("proc.name != bash", empty)).toBe(false);
    expect(check("fd.num < 100", empty)).toBe(false);
  });
  it("'not' of such a check is true; 'exists' tells them apart", () => {
    expect(check("not proc.name = bash", empty)).toBe(true);
    expect(check("proc.name exists", empty)).toBe(false);
    expect(check("evt.type exists", empty)).toBe(true);
  });
  it("ancestor fields without an index match any ancestor", () => {
    expect(check("proc.aname = systemd")).toBe(true);
    expect(check("proc.aname in (init, sshd)")).toBe(true);
    expect(check("proc.aname[2] = systemd")).toBe(true);
    expect(check("proc.aname[3] exists")).toBe(false);
  });
});

describe("compile-time checks", () => {
  it("rejects unknown fields (marked as unknown for skip-if-unknown-filter)", () => {
    const e = compileError("proc.nope = 1");
    expect(e.unknown).toBe(true);
    expect(e.pos).toMatchObject({ line: 1, col: 1 });
  });
  it("rejects unknown event types", () => {
    const e = compileError("evt.type in (open, opne)");
    expect(e.message).toBe("unknown event type 'opne'");
    expect(e.unknown).toBe(true);
  });
  it("rejects operators the field type does not support", () => {
    expect(compileError("fd.num contains 1").message).toMatch(/'contains' operator not supported for numeric filters/);
    expect(compileError("evt.is_open_read > 1").message).toMatch(/not supported for bool filters/);
    expect(compileError("fd.ip startswith 10").message).toMatch(/not supported for ip address and network filters/);
    expect(compileError("fd.types = ipv4").message).toMatch(/not supported for list filters/);
  });
  it("rejects literals of the wrong type", () => {
    expect(compileError("fd.num = abc").message).toMatch(/^abc is not a valid number$/);
    expect(compileError("evt.is_open_read = yes").message).toMatch(/not a valid boolean/);
    expect(compileError("fd.net = 10.0.0.0/99").message).toMatch(/not a valid IP network/);
    expect(compileError("fd.name regex '('").message).toBe("invalid regex pattern '(': Unterminated group");
  });
  it("regex: an unbalanced pattern is rejected, not silently re-grouped by the anchoring", () => {
    // anchored as ^(?:a)|(b)$ it would be valid and mean "starts with a or ends with b"
    expect(compileError("fd.name regex 'a)|(b'").message).toMatch(/^invalid regex pattern 'a\)\|\(b': /);
  });
  it("regex: RE2-only syntax JavaScript would silently read differently is refused", () => {
    expect(compileError("proc.name regex '[[:alpha:]]+'").message).toMatch(/RE2 syntax '\[:alpha:\]' is not supported/);
    expect(compileError("proc.name regex \\pL+").message).toMatch(/RE2 syntax '\\p' is not supported/);
    // an escaped backslash before p is a plain backslash and a letter
    expect(check("proc.name regex x\\\\p", ev({ "proc.name": "x\\p" }))).toBe(true);
  });
  it("regex: RE2's leading (?i) and (?s) flags apply to the whole pattern", () => {
    expect(check("proc.name regex '(?i)bash'")).toBe(true);
    expect(check("proc.name regex 'bash'")).toBe(false);
    expect(check("proc.cmdline regex '(?s)BASH.*'")).toBe(false);
    expect(check("proc.cmdline regex '(?is)BASH.*'")).toBe(true);
  });
  it("checks field arguments", () => {
    expect(compileError("proc.name[1] = x").message).toMatch(/does not take an argument/);
    expect(compileError("proc.aname[x] = x").message).toMatch(/numeric index/);
    expect(compileError("evt.arg = x").message).toMatch(/requires an argument/);
  });
});

describe("event-type index", () => {
  const types = (cond: string) => {
    const r = parseCondition(cond);
    if (!r.ok) throw new Error(r.error.message);
    return eventTypesOf(r.ast);
  };
  it("and intersects, or unites", () => {
    expect(types("evt.type in (open, openat) and evt.type in (openat, execve)")).toEqual({ neg: false, set: new Set(["openat"]) });
    expect(types("evt.type = open or evt.type = execve")).toEqual({ neg: false, set: new Set(["open", "execve"]) });
    expect(types("evt.type = open and proc.name = x")).toEqual({ neg: false, set: new Set(["open"]) });
  });
  it("negation is pushed down", () => {
    expect(types("not evt.type = open")).toEqual({ neg: true, set: new Set(["open"]) });
    expect(types("evt.type != open")).toEqual({ neg: true, set: new Set(["open"]) });
    expect(types("not (evt.type = open or proc.name = x)")).toEqual({ neg: true, set: new Set(["open"]) });
    expect(types("not (evt.type = open and proc.name = x)")).toEqual({ neg: true, set: new Set() });
  });
  it("a condition without evt.type matches every type", () => {
    const t = types("proc.name = bash");
    expect(t.neg).toBe(true);
    expect(typeSetSize(t, SYSCALL_EVENT_TYPES)).toBe(SYSCALL_EVENT_TYPES.size);
  });
});

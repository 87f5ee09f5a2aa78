/**
 * The kernel-side open filter: which read-only opens the sensor may leave in the kernel.
 *
 * Most opens on a host read ordinary files no rule cares about, yet each one that crosses
 * into userspace costs the opening process ~400 ns in the kernel. The sensor can judge one
 * class of opens itself (sensor.bpf.c, open_unwanted): open/openat read-only, without
 * O_CREAT, O_TRUNC, O_DIRECTORY or O_PATH, of a plain path (no "//", no "/.", no ".."
 * anywhere, no trailing "/"). An absolute one is exactly the fd.name, fd.nameraw and
 * (through its dirname) fd.directory the rules would see. A relative one (not "." or
 * "./...", and not against a dirfd) stays under the cwd: its fd.name is "cwd/path", and the
 * sensor filters it only when no entry lies under "cwd/" or covers it and the cwd has no
 * ".." in a name (pg_judge_cwd); its fd.nameraw is the relative text.
 * The sensor needs to know which opens some rule could match: this module derives them from
 * the rules as exact paths and prefixes, and process names (proc.name is the comm at exec,
 * which the sensor also keeps: a rule on `proc.name=sshd` can only match sshd's opens,
 * whatever their path), or says "every open" (no filter).
 *
 * The analysis over-approximates, like the event-type index: every node gets the set of
 * paths for which it may be true. A check it cannot read as a path constraint is "every
 * path", so is a `not` (only the true-set is tracked), so it never leaves an event behind
 * that a rule could match.
 */
import type { BinaryCheck, Expr, Operand, TransformerArg } from "../../condition/ast.js";
import type { Ruleset } from "../../ruleset.js";

/** The event types the kernel filters; openat2 (flags in user memory) and creat never are. */
export const FILTERED_OPEN_TYPES = ["open", "openat"] as const;

/**
 * Opens a condition may be true for: every open, or those whose path equals or lies under an
 * entry, or that a process of one of the names makes.
 */
export type PathSet =
  | { all: true }
  | { all: false; exact: ReadonlySet<string>; prefix: ReadonlySet<string>; comm: ReadonlySet<string> };

const ALL: PathSet = { all: true };
const NONE: PathSet = { all: false, exact: new Set(), prefix: new Set(), comm: new Set() };

/** The kernel's comm: 15 bytes at most, so a longer proc.name never matches. */
const COMM_MAX = 15;

const PATH_FIELDS = new Set(["fd.name", "fd.nameraw"]);
/** Fields that read the whole descriptor table, which a filtered open leaves incomplete. */
const TABLE_FIELDS = new Set(["fd.types"]);

function size(s: PathSet): number {
  return s.all ? Infinity : s.exact.size + s.prefix.size + s.comm.size;
}

function unite(a: PathSet, b: PathSet): PathSet {
  if (a.all || b.all) return ALL;
  return {
    all: false,
    exact: new Set([...a.exact, ...b.exact]),
    prefix: new Set([...a.prefix, ...b.prefix]),
    comm: new Set([...a.comm, ...b.comm]),
  };
}

function pathSet(exact: readonly string[], prefix: readonly string[], comm: readonly string[] = []): PathSet {
  return { all: false, exact: new Set(exact), prefix: new Set(prefix), comm: new Set(comm) };
}

/** The literal start of a glob pattern: everything before its first wildcard or escape. */
function globLiteral(pattern: string): string {
  const stop = pattern.search(/[*?[\\]/);
  return stop < 0 ? pattern : pattern.slice(0, stop);
}

/** A prefix entry for `p`; "" matches every path. The filtered paths all start with "/". */
function prefixOf(p: string): PathSet {
  if (p === "") return ALL;
  return p.startsWith("/") ? pathSet([], [p]) : NONE;
}

function rightValues(e: BinaryCheck): string[] | undefined {
  const r = e.right;
  if (r.kind === "value") return [r.value];
  // a bare name with no items may be a list that was never resolved: not a known constant
  if (r.kind === "list") return r.items.length === 0 && r.name !== undefined ? undefined : r.items.map((v) => v.value);
  return undefined; // another field or a transformer: not a constant
}

function check(e: BinaryCheck): PathSet {
  if (e.left.kind !== "field" || e.left.arg !== undefined) return ALL;
  const field = e.left.name;
  const values = rightValues(e);
  if (!values) return ALL;
  if (field === "evt.type") {
    const hits = FILTERED_OPEN_TYPES.filter((t) => values.includes(t)).length;
    if (e.op === "=" || e.op === "==" || e.op === "in" || e.op === "intersects") return hits > 0 ? ALL : NONE;
    if (e.op === "!=") return hits === FILTERED_OPEN_TYPES.length ? NONE : ALL;
    return ALL;
  }
  // a filtered open is read-only: evt.is_open_write is false for it
  if (field === "evt.is_open_write" && (e.op === "=" || e.op === "==") && values.length === 1 && values[0] === "true") return NONE;
  if (e.modifier) return ALL;
  if (field === "proc.name" && (e.op === "=" || e.op === "==" || e.op === "in" || e.op === "intersects")) {
    return pathSet([], [], values.filter((v) => v !== "" && Buffer.byteLength(v) <= COMM_MAX && !v.includes("\n")));
  }
  // fd.nameraw of a filtered relative open is relative text: only absolute values are judged
  if (field === "fd.nameraw" && values.some((v) => v !== "" && !v.startsWith("/")) && e.op !== "contains") return ALL;
  if (PATH_FIELDS.has(field)) {
    switch (e.op) {
      case "=":
      case "==":
      case "in":
      case "intersects":
        // a filtered path is absolute; a relative value can never equal it
        return pathSet(values.filter((v) => v.startsWith("/")), []);
      case "startswith":
        return values.map(prefixOf).reduce(unite, NONE);
      case "pmatch":
        // path-component prefixes: a string prefix covers them
        return values.map((v) => (v.startsWith("/") ? pathSet([], [v]) : ALL)).reduce(unite, NONE);
      case "glob":
        return values.map((v) => (field === "fd.nameraw" && !globLiteral(v).startsWith("/") ? ALL : prefixOf(globLiteral(v)))).reduce(unite, NONE);
      case "contains":
        // a filtered path has no ".." and no "//" in it ("/." it may: "cwd/" + ".git/...")
        return values.every((v) => v.includes("..") || v.includes("//")) ? NONE : ALL;
      default:
        return ALL;
    }
  }
  if (field === "fd.directory" && (e.op === "=" || e.op === "==" || e.op === "in" || e.op === "intersects")) {
    // the directory of a filtered path P is dirname(P): P lies under D + "/"
    return values.map((d) => (d.startsWith("/") ? pathSet([], [d.replace(/\/+$/, "") + "/"]) : NONE)).reduce(unite, NONE);
  }
  if (field === "fd.directory" && e.op === "startswith") return values.map(prefixOf).reduce(unite, NONE);
  return ALL;
}

/** The paths of a filterable open for which `e` may be true. */
export function openPathsOf(e: Expr): PathSet {
  switch (e.kind) {
    case "and": {
      // true only where every child is true: any one child's set bounds it; keep the smallest
      let best: PathSet = ALL;
      for (const c of e.children) {
        const s = openPathsOf(c);
        if (size(s) < size(best)) best = s;
        if (size(best) === 0) break;
      }
      return best;
    }
    case "or":
      return e.children.map(openPathsOf).reduce(unite, NONE);
    case "binary":
      return check(e);
    default:
      // not, exists, an unresolved macro: may be true for any path
      return ALL;
  }
}

function operandUses(o: Operand | TransformerArg, names: ReadonlySet<string>): boolean {
  switch (o.kind) {
    case "field":
      return names.has(o.name);
    case "transformer":
      return o.args.some((a) => operandUses(a, names));
    case "tlist":
      return o.items.some((a) => operandUses(a, names));
    default:
      return false;
  }
}

function usesField(e: Expr, names: ReadonlySet<string>): boolean {
  switch (e.kind) {
    case "and":
    case "or":
      return e.children.some((c) => usesField(c, names));
    case "not":
      return usesField(e.child, names);
    case "unary":
      return operandUses(e.left, names);
    case "binary":
      return operandUses(e.left, names) || (e.right.kind !== "value" && e.right.kind !== "list" && operandUses(e.right, names));
    default:
      return false;
  }
}

/** The filter for the loaded rules, or why there is none (a sentence naming the rule). */
export type OpenFilter = { entries: string[] } | { entries: undefined; off: string };

/**
 * The sensor's --open-read-paths entries for the loaded rules ("=PATH" exact, "^PREFIX",
 * "@COMM" a process name), or no filter when some rule may match any process's open
 * whatever its path, or reads the descriptor table as a whole.
 */
export function openFilter(ruleset: Ruleset, source = "syscall"): OpenFilter {
  for (const r of ruleset.rules) {
    if (r.source === source && r.enabled && usesField(r.ast, TABLE_FIELDS)) {
      return { entries: undefined, off: `rule '${r.name}' reads the whole descriptor table (fd.types)` };
    }
  }
  let paths: PathSet = NONE;
  for (const r of new Set(FILTERED_OPEN_TYPES.flatMap((t) => [...ruleset.rulesFor(source, t)]))) {
    paths = unite(paths, openPathsOf(r.ast));
    if (paths.all) return { entries: undefined, off: `rule '${r.name}' may match an open whatever its path or process name` };
  }
  if (paths.all) return { entries: undefined, off: "every open may match" };
  return {
    entries: [...[...paths.exact].map((p) => `=${p}`), ...[...paths.prefix].map((p) => `^${p}`), ...[...paths.comm].map((c) => `@${c}`)].sort(),
  };
}

/** openFilter's entries alone: undefined when opens must not be filtered. */
export function openFilterEntries(ruleset: Ruleset, source = "syscall"): string[] | undefined {
  return openFilter(ruleset, source).entries;
}

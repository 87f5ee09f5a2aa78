/** Value helpers used at compile time: literal parsing per field type, IPs, globs, paths. */

/** Parses a numeric literal (decimal, hex, float); undefined when it is not a number. */
export function parseNumber(text: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?$/.test(text)) return Number(text);
  return undefined;
}

export function parseBool(text: string): boolean | undefined {
  if (text === "true") return true;
  if (text === "false") return false;
  return undefined;
}

/** An IP address in a comparable form: v4 as a number, v6 as a bigint. */
export type ParsedIp = { v: 4; n: number } | { v: 6; n: bigint };

export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { v: 4, n: v4 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { v: 6, n: v6 };
  return undefined;
}

/** Fast IPv4 dotted-quad parser (no allocation); undefined when malformed. */
export function parseIpv4(s: string): number | undefined {
  let n = 0;
  let part = -1;
  let parts = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (part < 0) return undefined;
      n = n * 256 + part;
      part = -1;
      parts++;
    } else if (c >= 48 && c <= 57) {
      part = part < 0 ? c - 48 : part * 10 + (c - 48);
      if (part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (part < 0 || parts !== 3) return undefined;
  return n * 256 + part;
}

function parseIpv6(s: string): bigint | undefined {
  if (!s.includes(":")) return undefined;
  let text = s;
  // an embedded IPv4 tail (::ffff:1.2.3.4)
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  let tailGroups: string[] = [];
  if (tail.includes(".")) {
    const v4 = parseIpv4(tail);
    if (v4 === undefined) return undefined;
    tailGroups = [((v4 >>> 16) & 0xffff).toString(16), (v4 & 0xffff).toString(16)];
    text = text.slice(0, lastColon + 1) + "0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  let groups: string[];
  if (tailGroups.length) {
    if (halves.length === 2) rest.pop();
    else head.pop();
  }
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length - tailGroups.length;
    if (fill < 0) return undefined;
    groups = [...head, ...Array(fill).fill("0"), ...rest, ...tailGroups];
  } else {
    groups = [...head, ...tailGroups];
  }
  if (groups.length !== 8) return undefined;
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

export interface IpNet {
  v: 4 | 6;
  /** Network bits, masked. */
  base: number | bigint;
  prefix: number;
}

/** Parses `10.0.0.0/8`, `fe80::/10`, or a bare address (a host network). */
export function parseNet(text: string): IpNet | undefined {
  const slash = text.indexOf("/");
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.v === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  if (addr.v === 4) return { v: 4, base: maskV4(addr.n, prefix), prefix };
  return { v: 6, base: maskV6(addr.n, prefix), prefix };
}

function maskV4(n: number, prefix: number): number {
  if (prefix === 0) return 0;
  return (n - (n % 2 ** (32 - prefix))) >>> 0;
}

function maskV6(n: bigint, prefix: number): bigint {
  if (prefix === 0) return 0n;
  const shift = BigInt(128 - prefix);
  return (n >> shift) << shift;
}

export function netContains(net: IpNet, ip: ParsedIp): boolean {
  if (net.v !== ip.v) return false;
  if (ip.v === 4) return maskV4(ip.n, net.prefix) === net.base;
  return maskV6(ip.n, net.prefix) === net.base;
}

export function sameIp(a: ParsedIp, b: ParsedIp): boolean {
  return a.v === b.v && a.n === b.n;
}

/** Translates an fnmatch(3) pattern (no flags: `*` also crosses `/`) to an anchored RegExp. */
export function globToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "\\" && i + 1 < pattern.length) re += escapeRegExp(pattern[++i]!);
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      if (body.startsWith("!")) body = "^" + body.slice(1);
      re += "[" + body.replace(/\\/g, "\\\\") + "]";
      i = end;
    } else re += escapeRegExp(c);
  }
  return new RegExp(re + "$", caseInsensitive ? "i" : "");
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** pmatch prefixes, normalized once at compile time (no trailing slash except for "/"). */
export function pathPrefixes(prefixes: readonly string[]): string[] {
  return prefixes.map((p) => (p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p));
}

/** pmatch: true when `path` is one of `bases` (from pathPrefixes) or lies below one of them. */
export function pathMatches(path: string, bases: readonly string[]): boolean {
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i]!;
    if (path === base) return true;
    if (base === "/" ? path.startsWith("/") : path.startsWith(base) && path.charCodeAt(base.length) === 47) return true;
  }
  return false;
}

/**
 * pmatch patterns: plain prefixes (pathPrefixes), and prefixes with glob characters matched
 * one path component at a time, as libsinsp's path_prefix_map does (`/opt/*` holds for
 * `/opt/dir/file`, a `*` never crosses a '/').
 */
export interface PathPatterns {
  plain: string[];
  globs: RegExp[][];
}

export function pathPatterns(prefixes: readonly string[]): PathPatterns {
  const plain: string[] = [];
  const globs: RegExp[][] = [];
  for (const p of pathPrefixes(prefixes)) {
    if (/[*?[]/.test(p)) globs.push(p.split("/").map((c) => globToRegExp(c, false)));
    else plain.push(p);
  }
  return { plain, globs };
}

export function pathMatchesPatterns(path: string, p: PathPatterns): boolean {
  if (pathMatches(path, p.plain)) return true;
  if (p.globs.length === 0) return false;
  const parts = path.split("/");
  for (const g of p.globs) {
    if (g.length > parts.length) continue;
    let ok = true;
    for (let i = 0; i < g.length && ok; i++) ok = g[i]!.test(parts[i]!);
    if (ok) return true;
  }
  return false;
}

/** Decodes a hex literal for bcontains / bstartswith (Falco writes bytes as hex). */
export function parseHexBytes(text: string): string | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  let out = "";
  for (let i = 0; i < text.length; i += 2) out += String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
  return out;
}

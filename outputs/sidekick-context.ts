/**
 * The shared part of `peregrine config import-sidekick`: reading a Falcosidekick setting the
 * way Falcosidekick does (its environment variable wins over the file), and the helpers every
 * output's translator uses (`outputs/<type>/sidekick.ts`). A translator reads settings through
 * a {@link SidekickContext}, returns the Peregrine outputs it makes, and reports what it left
 * out with `note`.
 */
import { join } from "node:path";
import { parsePriority } from "../src/alert.js";

export type Tree = Record<string, unknown>;

/** A setting left out of the translation, with the reason. */
export interface ImportNote {
  setting: string;
  reason: string;
}

/** One Peregrine output, as written in the translated config. */
export type TranslatedOutput = Record<string, unknown>;

/** Turns one Falcosidekick output's settings into Peregrine outputs (none when it is not configured). */
export interface SidekickTranslator {
  /** Falcosidekick's top-level sections it reads (e.g. `aws` for S3); others are reported as unknown. */
  sections: readonly string[];
  translate(ctx: SidekickContext): TranslatedOutput[];
}

/** Settings read the way Falcosidekick's Viper reads them: a non-empty SECTION_KEY variable wins over the file. */
export interface SidekickContext {
  /** The raw value and, when it came from the environment, the variable's name. */
  get(path: string): { value: unknown; env?: string };
  str(path: string, fallback?: string): string;
  /** A secret keeps its `${VAR}` reference when it came from the environment, so it is never printed. */
  secret(path: string): string;
  bool(path: string, fallback: boolean): boolean;
  /** A map setting: a YAML map, or "k:v,k2:v2" from the environment (Falcosidekick's format). */
  map(path: string): Record<string, string>;
  /** A list setting: a YAML list, or a comma-separated string. */
  list(path: string): string[];
  /** `PATH.minimumpriority` in Peregrine's spelling; undefined (noted) when unknown. */
  priority(path: string): string | undefined;
  /** The client TLS settings of an output (mutualtls, checkcert and the global CA and client files). */
  tls(path: string): Record<string, unknown> | undefined;
  /** name, type, minimum_priority and concurrency: what every translated output starts with. */
  common(path: string, name: string, type: string): TranslatedOutput;
  /** Notes each of the keys under PATH that is set, with its reason. */
  leftOut(path: string, keys: Record<string, string>): void;
  note(setting: string, reason: string): void;
  warn(message: string): void;
}

/** A context and the notes and warnings its translators add. */
export interface SidekickSession {
  ctx: SidekickContext;
  /** The config with its keys lower-cased, as Falcosidekick matches them. */
  tree: Tree;
  notes: ImportNote[];
  warnings: string[];
}

/** Header names that usually carry a credential. */
const CREDENTIAL_HEADER = /authorization|token|secret|password|api[-_]?key|cookie/i;

function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (v !== null && typeof v === "object") {
    const out: Tree = {};
    for (const [k, x] of Object.entries(v)) out[k.toLowerCase()] = lowerKeys(x);
    return out;
  }
  return v;
}

function envNameOf(path: string): string {
  return path.toUpperCase().replace(/\./g, "_");
}

/** The raw (case-preserving) map at a lower-cased path, for map keys such as header names. */
function rawAt(raw: Tree, path: string): Tree | undefined {
  let cur: unknown = raw;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    const key = Object.keys(cur).find((k) => k.toLowerCase() === part);
    if (key === undefined) return undefined;
    cur = (cur as Tree)[key];
  }
  return cur !== null && typeof cur === "object" && !Array.isArray(cur) ? (cur as Tree) : undefined;
}

/** A context over a Falcosidekick config (keys in any case) and the environment. */
export function createSidekickContext(rawConfig: Tree, env: NodeJS.ProcessEnv): SidekickSession {
  const tree = lowerKeys(rawConfig) as Tree;
  const notes: ImportNote[] = [];
  const warnings: string[] = [];
  const note = (setting: string, reason: string) => {
    notes.push({ setting, reason });
  };
  const warn = (message: string) => {
    warnings.push(message);
  };

  function fileValue(path: string): unknown {
    let cur: unknown = tree;
    for (const part of path.split(".")) {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
      cur = (cur as Tree)[part];
    }
    return cur;
  }
  function get(path: string): { value: unknown; env?: string } {
    const name = envNameOf(path);
    const e = env[name];
    if (e !== undefined && e !== "") return { value: e, env: name };
    return { value: fileValue(path) };
  }
  function str(path: string, fallback = ""): string {
    const v = get(path).value;
    if (v === undefined || v === null) return fallback;
    return typeof v === "string" ? v.trim() : String(v);
  }
  function secret(path: string): string {
    const f = get(path);
    if (f.env) return `\${${f.env}}`;
    return f.value === undefined || f.value === null ? "" : String(f.value);
  }
  function bool(path: string, fallback: boolean): boolean {
    const v = get(path).value;
    if (typeof v === "boolean") return v;
    if (typeof v === "string" && v !== "") return /^(true|1|yes|on)$/i.test(v.trim());
    return fallback;
  }
  function map(path: string): Record<string, string> {
    const f = get(path);
    const out: Record<string, string> = {};
    if (typeof f.value === "string") {
      for (const pair of f.value.split(",")) {
        const i = pair.indexOf(":");
        if (i <= 0) {
          if (pair.trim() !== "") note(f.env ?? path, `"${pair.trim()}" is not key:value; left out`);
          continue;
        }
        out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
      }
      // One variable holds every header, so a header cannot become a ${VAR} reference of its own.
      const credentials = Object.keys(out).filter((h) => CREDENTIAL_HEADER.test(h));
      if (f.env && path.endsWith("customheaders") && credentials.length > 0)
        warn(
          `${f.env}: the ${credentials.join(", ")} header${credentials.length === 1 ? " is" : "s are"} written in clear; replace the value with a \${VAR} reference before sharing the file`,
        );
    } else if (f.value !== null && typeof f.value === "object" && !Array.isArray(f.value)) {
      // Map keys keep the case the user wrote (header names, label names): read them from the raw file.
      const rawMap = rawAt(rawConfig, path);
      for (const [k, v] of Object.entries(rawMap ?? (f.value as Tree))) if (v !== null && v !== undefined) out[k] = String(v);
    }
    return out;
  }
  function list(path: string): string[] {
    const v = get(path).value;
    if (Array.isArray(v)) return v.map((x) => String(x).trim()).filter((x) => x !== "");
    if (typeof v === "string") return v.split(",").map((x) => x.trim()).filter((x) => x !== "");
    return [];
  }
  function priority(path: string): string | undefined {
    const p = str(`${path}.minimumpriority`);
    if (p === "") return undefined;
    const parsed = parsePriority(p);
    if (!parsed) {
      note(`${path}.minimumpriority`, `unknown priority "${p}"; the output gets every alert`);
      return undefined;
    }
    return parsed.toLowerCase();
  }
  function tls(path: string): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    if (bool(`${path}.mutualtls`, false)) {
      const dir = str("mutualtlsfilespath", "/etc/certs");
      out.cert_file = str("mutualtlsclient.certfile") || join(dir, "client.crt");
      out.key_file = str("mutualtlsclient.keyfile") || join(dir, "client.key");
      out.ca_file = str("mutualtlsclient.cacertfile") || join(dir, "ca.crt");
    } else {
      const ca = str("tlsclient.cacertfile");
      if (ca !== "") out.ca_file = ca;
      if (!bool(`${path}.checkcert`, true)) out.insecure_skip_verify = true;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  function common(path: string, name: string, type: string): TranslatedOutput {
    const o: TranslatedOutput = { name, type };
    const p = priority(path);
    if (p) o.minimum_priority = p;
    const concurrency = Number(str(`${path}.maxconcurrentrequests`, "1"));
    if (Number.isInteger(concurrency) && concurrency > 1) o.concurrency = Math.min(concurrency, 256);
    return o;
  }
  function leftOut(path: string, keys: Record<string, string>): void {
    for (const [key, reason] of Object.entries(keys)) {
      const v = get(`${path}.${key}`).value;
      if (v !== undefined && v !== null && v !== "" && v !== false && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && Object.keys(v).length === 0))
        note(`${path}.${key}`, reason);
    }
  }

  return { ctx: { get, str, secret, bool, map, list, priority, tls, common, leftOut, note, warn }, tree, notes, warnings };
}

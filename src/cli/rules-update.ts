/**
 * `peregrine rules update [REF] [--dir DIR] [--plain-http]`: installs the newest Falco rules
 * published as an OCI artifact, as `falcoctl artifact install` does, into the folder the
 * detector loads (rules/falco/ by default). Nothing is written unless the artifact matches its
 * digests and its rules load without an error here; each file is replaced atomically.
 *
 * Exit codes: 0 installed or already current; 1 a bad artifact (digest mismatch, not a
 * rulesfile, rules with errors); 2 usage; 3 the registry cannot be reached or refuses, or the
 * folder cannot be written.
 */
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createHash } from "node:crypto";
import { defaultSources, formatMessage, loadRules, replaySource } from "../detector/index.js";
import { defaultRulesFiles } from "../detector/sources/syscall/config.js";
import { PeregrineError, errorMessage, type ErrorCode } from "../errors.js";
import { formatReference, parseReference, pullRulesfile, type PulledRulesfile } from "../oci/pull.js";
import type { TarFile } from "../oci/tar.js";

/** Falco's stable rules for engine 0.57 (Falco 0.41 and later), the tag falcoctl follows. */
export const DEFAULT_RULES_REFERENCE = "ghcr.io/falcosecurity/rules/falco-rules:5";

export interface RulesUpdateOptions {
  reference: string;
  dir?: string;
  plainHttp: boolean;
}

export interface RulesUpdateResult {
  dir: string;
  reference: string;
  manifestDigest: string;
  name: string;
  version: string;
  files: string[];
  changed: boolean;
}

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  CLI_USAGE: 2,
  RULES_UPDATE_DIGEST_MISMATCH: 1,
  RULES_UPDATE_NOT_RULESFILE: 1,
  RULES_UPDATE_INVALID_RULES: 1,
};

/** The exit code for a failed update: 1 a bad artifact, 2 usage, 3 registry or disk. */
export function rulesUpdateExit(err: PeregrineError): number {
  return EXIT_BY_CODE[err.code] ?? 3;
}

function rulesFiles(pulled: PulledRulesfile): TarFile[] {
  const seen = new Set<string>();
  const files: TarFile[] = [];
  for (const f of pulled.files) {
    const name = basename(f.path);
    if (!/\.ya?ml$/.test(name) || name.startsWith(".")) continue;
    // falcoctl's layers are flat; a name twice would make one file silently win.
    if (seen.has(name)) throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `the rules layer of ${pulled.reference} holds ${name} twice`);
    seen.add(name);
    files.push({ path: name, data: f.data });
  }
  if (files.length === 0) throw new PeregrineError("RULES_UPDATE_NOT_RULESFILE", `the rules layer of ${pulled.reference} holds no .yaml file`);
  return files;
}

/** The new rules must load in this engine before they replace rules that do. */
function checkRulesLoad(files: TarFile[], reference: string): void {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-rules-update-"));
  try {
    const paths = files.map((f) => {
      const p = join(dir, f.path);
      writeAll(p, f.data);
      return p;
    });
    const syscall = replaySource();
    const sources = [syscall, ...defaultSources().filter((s) => s.name !== "syscall")];
    const { results } = loadRules({ files: paths, sources });
    if (!results.ok) {
      const shown = results.errors.slice(0, 3).map((e) => formatMessage({ ...e, position: { ...e.position, file: basename(e.position.file) } }, "error").split("\n")[0]);
      const more = results.errors.length > 3 ? ` (and ${results.errors.length - 3} more)` : "";
      throw new PeregrineError("RULES_UPDATE_INVALID_RULES", `the rules of ${reference} do not load in this engine: ${shown.join("; ")}${more}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeAll(path: string, data: Buffer | string): void {
  const fd = openSync(path, "w", 0o644);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write beside, fsync, rename over: a reader (the detector starting) sees the old file or the new one. */
function replaceAtomically(dir: string, name: string, data: Buffer | string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    writeAll(tmp, data);
    renameSync(tmp, join(dir, name));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw new PeregrineError("RULES_UPDATE_WRITE_FAILED", `cannot write ${name} into ${dir}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
}

function sameContent(path: string, data: Buffer): boolean {
  try {
    return readFileSync(path).equals(data);
  } catch {
    return false;
  }
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** Where the update writes by default: the folder of Falco's rules the detector loads. */
export function defaultRulesDir(): string {
  return defaultRulesFiles()[0]!;
}

export async function updateRules(options: RulesUpdateOptions): Promise<RulesUpdateResult> {
  const ref = parseReference(options.reference);
  const dir = options.dir ?? defaultRulesDir();
  const pulled = await pullRulesfile(ref, { plainHttp: options.plainHttp });
  const files = rulesFiles(pulled);
  checkRulesLoad(files, pulled.reference);

  const name = pulled.config.name ?? ref.repository.split("/").pop()!;
  const version = pulled.config.version ?? "unknown";
  const lines = [
    `name: ${name}`,
    `version: ${version}`,
    `source: ${formatReference(ref)} (manifest ${pulled.manifestDigest}, layer ${pulled.layerDigest})`,
    ...files.flatMap((f) => [`file: ${f.path}`, `sha256: ${sha256(f.data)}`]),
  ];
  const changed = !files.every((f) => sameContent(join(dir, f.path), f.data));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new PeregrineError("RULES_UPDATE_WRITE_FAILED", `cannot create ${dir}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
  for (const f of files) if (!sameContent(join(dir, f.path), f.data)) replaceAtomically(dir, f.path, f.data);
  replaceAtomically(dir, "VERSION", `${lines.join("\n")}\n`);
  // The renames are durable once the folder itself is synced.
  try {
    const fd = openSync(dir, "r");
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the renames still happened
  }
  return { dir, reference: pulled.reference, manifestDigest: pulled.manifestDigest, name, version, files: files.map((f) => f.path), changed };
}

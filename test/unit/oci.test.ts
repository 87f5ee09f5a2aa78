import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatReference, parseReference } from "../../src/oci/pull.js";
import { readTar, TarFormatError } from "../../src/oci/tar.js";

const dir = mkdtempSync(join(tmpdir(), "peregrine-oci-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An archive made by GNU tar in the given format, of files under a fresh folder. */
function tar(format: string, files: Record<string, string>): Buffer {
  const root = mkdtempSync(join(dir, "src-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const out = join(dir, `${format}-${Object.keys(files).length}-${Math.random().toString(36).slice(2)}.tar`);
  const r = spawnSync("tar", [`--format=${format}`, "-cf", out, "-C", root, ...Object.keys(files)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return readFileSync(out);
}

describe("the tar reader of rules layers", () => {
  const long = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(90)}_rules.yaml`;
  for (const format of ["gnu", "ustar", "pax"]) {
    it(`reads the regular files of a ${format} archive made by GNU tar`, () => {
      const files = { "falco_rules.yaml": "- list: a\n  items: [b]\n", "sub/other.yaml": "x".repeat(1500) };
      const got = readTar(tar(format, files));
      expect(Object.fromEntries(got.map((f) => [f.path, f.data.toString()]))).toEqual(files);
    });
  }
  for (const format of ["gnu", "pax"]) {
    it(`keeps a name longer than 100 characters (${format})`, () => {
      const got = readTar(tar(format, { [long]: "long" }));
      expect(got.map((f) => f.path)).toEqual([long]);
    });
  }
  it("refuses a damaged header and an archive cut inside a file", () => {
    const good = tar("gnu", { "a.yaml": "y".repeat(2000) });
    const bad = Buffer.from(good);
    bad[10] = bad[10]! ^ 0xff;
    expect(() => readTar(bad)).toThrow(TarFormatError);
    expect(() => readTar(good.subarray(0, 1024))).toThrow(/ends inside a file/);
  });
});

describe("artifact references", () => {
  it("parse as falcoctl's: registry, repository, tag (default latest), digest", () => {
    expect(parseReference("ghcr.io/falcosecurity/rules/falco-rules:5")).toEqual({ registry: "ghcr.io", repository: "falcosecurity/rules/falco-rules", tag: "5" });
    expect(parseReference("127.0.0.1:5000/rules/x")).toEqual({ registry: "127.0.0.1:5000", repository: "rules/x", tag: "latest" });
    const digest = `sha256:${"a".repeat(64)}`;
    const pinned = parseReference(`localhost/rules/x:5@${digest}`);
    expect(pinned).toEqual({ registry: "localhost", repository: "rules/x", tag: "5", digest });
    expect(formatReference(pinned)).toBe(`localhost/rules/x@${digest}`);
  });
  it("refuse what is not one, naming why", () => {
    expect(() => parseReference("falco-rules:5")).toThrow(/must name its registry/);
    expect(() => parseReference("falcosecurity/rules:5")).toThrow(/"falcosecurity" is not a registry host/);
    expect(() => parseReference("ghcr.io/Falco/Rules:5")).toThrow(/not a valid repository name/);
    expect(() => parseReference("ghcr.io/a/b@sha256:123")).toThrow(/digest must be sha256/);
  });
});

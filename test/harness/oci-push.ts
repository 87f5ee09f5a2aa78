/**
 * Publishes Falco rulesfile artifacts to an OCI registry the way falcoctl pushes them: the
 * config and layer blobs (POST an upload, PUT it with its digest), then an OCI image manifest
 * with falcoctl's media types. Plain calls to the OCI distribution API, for tests.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";

export const RULESFILE_CONFIG_MT = "application/vnd.cncf.falco.rulesfile.config.v1+json";
export const RULESFILE_LAYER_MT = "application/vnd.cncf.falco.rulesfile.layer.v1+tar.gz";
const MANIFEST_MT = "application/vnd.oci.image.manifest.v1+json";

export const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A layer as falcoctl packs one: a tar.gz of the rules files, made with GNU tar. */
export function tarGz(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-layer-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const out = join(dir, "layer.tar.gz");
    const r = spawnSync("tar", ["-czf", out, "-C", dir, ...Object.keys(files)], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PushTarget {
  /** http://host:port */
  url: string;
  /** Extra headers on every call, e.g. a bearer token. */
  headers?: Record<string, string>;
}

async function pushBlob(target: PushTarget, repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  const start = await request(`${target.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: target.headers ?? {} });
  const startText = await start.body.text();
  if (start.statusCode !== 202) throw new Error(`blob upload start: HTTP ${start.statusCode} ${startText}`);
  const location = new URL(start.headers.location as string, target.url);
  location.searchParams.set("digest", digest);
  const put = await request(location, { method: "PUT", body: data, headers: { ...target.headers, "content-type": "application/octet-stream" } });
  const text = await put.body.text();
  if (put.statusCode !== 201) throw new Error(`blob upload: HTTP ${put.statusCode} ${text}`);
  return { digest, size: data.length };
}

export interface Pushed {
  manifestDigest: string;
  layerDigest: string;
}

export const DEFAULT_RULES_CONFIG = { name: "falco-rules", version: "5.1.1", requirements: [{ name: "engine_version_semver", version: "0.57.0" }] };

export async function pushRulesArtifact(
  target: PushTarget,
  repo: string,
  tag: string,
  layer: Buffer,
  config: Record<string, unknown> = DEFAULT_RULES_CONFIG,
  mediaTypes = { config: RULESFILE_CONFIG_MT, layer: RULESFILE_LAYER_MT },
): Promise<Pushed> {
  const configBlob = await pushBlob(target, repo, Buffer.from(JSON.stringify(config)));
  const layerBlob = await pushBlob(target, repo, layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MT,
    config: { mediaType: mediaTypes.config, ...configBlob },
    layers: [{ mediaType: mediaTypes.layer, ...layerBlob, annotations: { "org.opencontainers.image.title": "falco_rules.yaml.tar.gz" } }],
    annotations: { "org.opencontainers.image.created": new Date().toISOString() },
  });
  const res = await request(`${target.url}/v2/${repo}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { ...target.headers, "content-type": MANIFEST_MT } });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`manifest: HTTP ${res.statusCode} ${text}`);
  if (res.headers["docker-content-digest"] !== sha256(manifest)) throw new Error(`the registry names the manifest ${String(res.headers["docker-content-digest"])}`);
  return { manifestDigest: sha256(manifest), layerDigest: layerBlob.digest };
}

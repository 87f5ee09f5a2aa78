/**
 * The `output` of an action (Falco Talon's `output: { target, parameters }`): where the files
 * an actionner produced (a pod's log, a downloaded file, a script's output) are stored.
 *
 *   aws:s3      bucket, prefix, region        the AWS default credentials chain, or those configured
 *   minio:s3    bucket, prefix                an S3-compatible store (MinIO, Ceph, moto, ...) configured once
 *   local:file  destination                   a folder that exists
 *
 * Keys are Talon's: `<prefix>/<time>_<namespace>_<pod>_<name>` (the actionner puts the
 * namespace and pod in the artifact's name). Objects are written with `If-None-Match: *` and
 * files with the exclusive flag, and the time is the action's (`options.time`), so a write the
 * engine repeats after a crash lands on the same key once.
 */
import { link, open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { classifyS3Error } from "../../outputs/s3/classify.js";
import { errorMessage, PeregrineError } from "../errors.js";
import type { ActionArtifact, ActionParameters } from "./actionner.js";

export const ARTIFACT_TARGETS = ["aws:s3", "minio:s3", "local:file"] as const;
export type ArtifactTarget = (typeof ARTIFACT_TARGETS)[number];

/** Connection settings that do not belong in a rules file: Talon keeps them in its config too. */
export interface TargetsConfig {
  aws?: { region?: string; endpoint?: string; access_key_id?: string; secret_access_key?: string; session_token?: string; force_path_style?: boolean };
  minio?: { endpoint: string; access_key: string; secret_key: string; region?: string };
}

let config: TargetsConfig = {};
const clients = new Map<string, S3Client>();

/** Sets where aws:s3 and minio:s3 connect (the response section of the configuration). */
export function configureArtifactTargets(c: TargetsConfig): void {
  config = c;
  for (const client of clients.values()) client.destroy();
  clients.clear();
}

export type WriteResult =
  | { readonly ok: true; readonly location: string; readonly objects: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly message: string; readonly retryable: boolean };

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined);

/** Problems with an action's `output:`, each naming the parameter; empty when valid. */
export function checkArtifactTarget(target: string, parameters: ActionParameters): string[] {
  if (!(ARTIFACT_TARGETS as readonly string[]).includes(target)) return [`target: unknown output target ${JSON.stringify(target)} (one of ${ARTIFACT_TARGETS.join(", ")})`];
  const problems: string[] = [];
  if (target === "local:file") {
    if (!str(parameters.destination)) problems.push("destination: required, the folder files are written to");
  } else {
    if (!str(parameters.bucket)) problems.push("bucket: required");
    if (parameters.prefix !== undefined && typeof parameters.prefix !== "string") problems.push("prefix: must be a string");
    if (target === "minio:s3" && !config.minio) problems.push("minio:s3 needs the store's endpoint and keys configured");
  }
  return problems;
}

/** Talon's key time layout: 2006-01-02T15-04-05Z. */
function keyTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/:/g, "-");
}

export function artifactKey(artifact: ActionArtifact, time: Date): string {
  return `${keyTime(time)}_${artifact.name.replace(/\//g, "_")}`;
}

function s3Client(target: "aws:s3" | "minio:s3", region: string | undefined): S3Client {
  const id = `${target}|${region ?? ""}`;
  let c = clients.get(id);
  if (c) return c;
  const cfg: S3ClientConfig = { maxAttempts: 1 };
  if (target === "minio:s3") {
    const m = config.minio!;
    cfg.endpoint = m.endpoint;
    cfg.forcePathStyle = true;
    cfg.region = m.region ?? "us-east-1";
    cfg.credentials = { accessKeyId: m.access_key, secretAccessKey: m.secret_key };
  } else {
    const a = config.aws ?? {};
    cfg.region = region ?? a.region ?? process.env.AWS_REGION ?? "us-east-1";
    if (a.endpoint) cfg.endpoint = a.endpoint;
    if (a.force_path_style) cfg.forcePathStyle = true;
    if (a.access_key_id && a.secret_access_key)
      cfg.credentials = { accessKeyId: a.access_key_id, secretAccessKey: a.secret_access_key, ...(a.session_token ? { sessionToken: a.session_token } : {}) };
  }
  c = new S3Client(cfg);
  clients.set(id, c);
  return c;
}

/**
 * Stores one artifact. `time` should be the action's own (journaled) time so a repeated write
 * hits the same key; a key that exists already counts as written.
 */
export async function storeArtifact(target: string, parameters: ActionParameters, artifact: ActionArtifact, options: { time?: Date; signal?: AbortSignal } = {}): Promise<WriteResult> {
  const problems = checkArtifactTarget(target, parameters);
  if (problems.length > 0) return { ok: false, message: `${target}: ${problems.join("; ")}`, retryable: false };
  const key = artifactKey(artifact, options.time ?? new Date());
  if (target === "local:file") return writeFile(str(parameters.destination)!, key, artifact);
  const t = target as "aws:s3" | "minio:s3";
  const bucket = str(parameters.bucket)!;
  let prefix = (str(parameters.prefix) ?? "").replace(/\/+$/, "");
  if (t === "aws:s3") prefix = prefix.replace(/^\/+/, "");
  const objectKey = prefix === "" ? key : `${prefix}/${key}`;
  try {
    await s3Client(t, str(parameters.region)).send(
      new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: artifact.data, ContentType: artifact.contentType, IfNoneMatch: "*" }),
      options.signal ? { abortSignal: options.signal } : {},
    );
  } catch (err) {
    const r = classifyS3Error(err);
    if (r.kind !== "ok") return { ok: false, message: `${target} s3://${bucket}/${objectKey}: ${r.kind === "retry" || r.kind === "reject" ? r.reason : errorMessage(err)}`, retryable: r.kind === "retry" };
  }
  return { ok: true, location: `s3://${bucket}/${objectKey}`, objects: { bucket, key: objectKey, file: artifact.name } };
}

async function writeFile(destination: string, key: string, artifact: ActionArtifact): Promise<WriteResult> {
  try {
    if (!(await stat(destination)).isDirectory()) return { ok: false, message: `local:file: destination ${destination} is not a folder`, retryable: false };
  } catch {
    return { ok: false, message: `local:file: folder '${destination}' does not exist`, retryable: false };
  }
  const path = join(destination, key);
  // written beside, then linked under its name: the name never shows a half-written file,
  // and an existing one (an earlier attempt of this action) is kept
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const f = await open(tmp, "w", 0o600);
    try {
      await f.writeFile(artifact.data);
      await f.sync();
    } finally {
      await f.close();
    }
    await link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  } catch (err) {
    return { ok: false, message: `local:file ${path}: ${errorMessage(err)}`, retryable: true };
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return { ok: true, location: path, objects: { destination: path, file: artifact.name } };
}

/** Why an artifact was not stored; `retryable` when a later attempt may succeed. */
export class ArtifactWriteError extends PeregrineError {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(retryable ? "RESPONSE_ACTION_RETRY" : "RESPONSE_ACTION_FAILED", message);
    this.name = "ArtifactWriteError";
  }
}

/** storeArtifact in the engine's shape: the location written, or an ArtifactWriteError saying why not. */
export async function writeArtifact(target: string, parameters: ActionParameters, artifact: ActionArtifact, options: { time?: Date; signal?: AbortSignal } = {}): Promise<string> {
  const r = await storeArtifact(target, parameters, artifact, options);
  if (!r.ok) throw new ArtifactWriteError(r.message, r.retryable);
  return r.location;
}

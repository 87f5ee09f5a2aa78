/**
 * The aws:lambda actionner and the aws:s3 / minio:s3 / local:file output targets against the
 * harness's moto server. moto runs no function code here (its Lambda runtime needs Docker):
 * with `lambda.use_docker: false` an invocation answers the payload it received, which is
 * what these tests read back — the alert, as Talon sends it. (That mode also answers for a
 * function deleted after it was resolved, so `gone` on a deleted function is not tested here.)
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { CreateFunctionCommand, DeleteFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awsActionners, useAwsConfig } from "../../src/response/actionners/aws/index.js";
import type { ActionTarget, Actionner } from "../../src/response/actionner.js";
import { artifactKey, checkArtifactTarget, configureArtifactTargets, storeArtifact, writeArtifact } from "../../src/response/targets.js";
import { makeAlert, runId } from "../harness/alerts.js";
import { S3 } from "../harness/endpoints.js";
import { services } from "../harness/services.js";

const lambda = awsActionners.find((a) => a.name === "aws:lambda")!;
const id = runId();
const fn = `pg-fn-${id}`;
const role = `pg-role-${id}`;
const bucket = `pg-artifacts-${id}`;
const creds = { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey };
const lambdaClient = new LambdaClient({ endpoint: S3.endpoint, region: S3.region, credentials: creds });
const s3 = new S3Client({ endpoint: S3.endpoint, region: S3.region, forcePathStyle: true, credentials: creds });

/** moto's IAM takes an unsigned query request; the Authorization header only names the service. */
async function iam(params: Record<string, string>): Promise<string> {
  const res = await fetch(S3.endpoint, {
    method: "POST",
    headers: { authorization: `AWS4-HMAC-SHA256 Credential=test/20240101/${S3.region}/iam/aws4_request, SignedHeaders=host, Signature=0`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...params, Version: "2010-05-08" }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`IAM ${params.Action}: HTTP ${res.status}: ${text}`);
  return text;
}

/** A one-file zip (stored with deflate) holding the handler: moto keeps it, never runs it. */
function zipOf(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const deflated = deflateRawSync(data);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const nameBuf = Buffer.from(name);
  const localPart = Buffer.concat([local, nameBuf, deflated]);
  const centralPart = Buffer.concat([central, nameBuf]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralPart.length, 12);
  end.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, end]);
}

function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

async function act(a: Actionner, parameters: Record<string, unknown>, alert = makeAlert(1)) {
  expect(a.checkParameters(parameters)).toEqual([]);
  const r = await a.resolve(alert, parameters);
  if (!r.ok) return { resolved: r, result: undefined };
  const result = await a.run({ alert, parameters, target: r.target, signal: AbortSignal.timeout(30_000) });
  return { resolved: r, result, target: r.target };
}

beforeAll(async () => {
  await services.start("s3");
  // no Docker for moto's Lambda runtime: an invocation echoes its payload
  const cfg = await fetch(`${S3.endpoint}/moto-api/config`, { method: "POST", body: JSON.stringify({ lambda: { use_docker: false } }), headers: { "content-type": "application/json" } });
  expect(cfg.status).toBeLessThan(300);
  const roleXml = await iam({ Action: "CreateRole", RoleName: role, AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [] }) });
  const roleArn = /<Arn>([^<]+)<\/Arn>/.exec(roleXml)![1]!;
  await lambdaClient.send(
    new CreateFunctionCommand({ FunctionName: fn, Runtime: "python3.12", Role: roleArn, Handler: "handler.main", Code: { ZipFile: zipOf("handler.py", "def main(event, context):\n    return event\n") } }),
  );
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  useAwsConfig({ endpoint: S3.endpoint, region: S3.region, access_key_id: S3.accessKeyId, secret_access_key: S3.secretAccessKey });
  configureArtifactTargets({
    aws: { endpoint: S3.endpoint, region: S3.region, force_path_style: true, access_key_id: S3.accessKeyId, secret_access_key: S3.secretAccessKey },
    minio: { endpoint: S3.endpoint, access_key: S3.accessKeyId, secret_key: S3.secretAccessKey },
  });
}, 120_000);

afterAll(async () => {
  await lambdaClient.send(new DeleteFunctionCommand({ FunctionName: fn })).catch(() => undefined);
  await iam({ Action: "DeleteRole", RoleName: role }).catch(() => undefined);
  lambdaClient.destroy();
  s3.destroy();
});

describe("aws:lambda against moto", () => {
  it("checks Talon's parameters", () => {
    expect(lambda.checkParameters({})).toEqual(["aws_lambda_name: required"]);
    expect(lambda.checkParameters({ aws_lambda_name: "f", aws_lambda_invocation_type: "Async" })[0]).toMatch(/aws_lambda_invocation_type: must be one of RequestResponse, Event, DryRun/);
    expect(lambda.checkParameters({ aws_lambda_name: "f", aws_lambda_alias_or_version: "$LATEST", aws_lambda_invocation_type: "Event" })).toEqual([]);
  });

  it("invokes the function with the alert as its payload (RequestResponse) and records the function's ARN", async () => {
    const alert = makeAlert(7, { rule: "Unexpected outbound connection" });
    const { resolved, result } = await act(lambda, { aws_lambda_name: fn, aws_lambda_alias_or_version: "$LATEST", aws_lambda_invocation_type: "RequestResponse" }, alert);
    expect(resolved.ok).toBe(true);
    expect((resolved as { target: ActionTarget }).target.identity).toMatchObject({ name: fn, qualifier: "$LATEST" });
    expect((resolved as { target: ActionTarget }).target.identity.arn).toMatch(new RegExp(`^arn:aws:lambda:${S3.region}:\\d+:function:${fn}`));
    expect(result?.status).toBe("done");
    // moto answers the payload it was given: the alert as Talon forwards it
    const echoed = JSON.parse(result!.message.slice(result!.message.indexOf(": ") + 2)) as Record<string, unknown>;
    expect(echoed).toMatchObject({ uuid: alert.uuid, rule: alert.rule, priority: alert.priority, output_fields: alert.output_fields, hostname: alert.hostname });
  });

  it("an Event invocation is accepted (202)", async () => {
    const { result } = await act(lambda, { aws_lambda_name: fn, aws_lambda_invocation_type: "Event" });
    expect(result).toMatchObject({ status: "done" });
    expect(result!.message).toMatch(/Event, status 202/);
  });

  it("a function that does not exist is refused when the target is resolved, with nothing invoked", async () => {
    const { resolved, result } = await act(lambda, { aws_lambda_name: `${fn}-missing` });
    expect(result).toBeUndefined();
    expect(resolved).toMatchObject({ ok: false, code: "RESPONSE_TARGET_GONE" });
  });
});

describe("action output targets", () => {
  const artifact = { name: "payments_web-1_log", contentType: "text/plain; charset=utf-8", data: Buffer.from(`line 1\nline 2 ${id}\n`) };
  const time = new Date("2026-01-02T03:04:05.678Z");

  async function keys(prefix: string): Promise<string[]> {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key!);
  }

  it("names its problems", () => {
    expect(checkArtifactTarget("gcs", {})[0]).toMatch(/unknown output target "gcs"/);
    expect(checkArtifactTarget("aws:s3", {})).toEqual(["bucket: required"]);
    expect(checkArtifactTarget("local:file", {})).toEqual(["destination: required, the folder files are written to"]);
    expect(artifactKey(artifact, time)).toBe("2026-01-02T03-04-05Z_payments_web-1_log");
  });

  it("aws:s3 stores the artifact under Talon's key once, however often the write is repeated", async () => {
    const params = { bucket, prefix: "/logs/" };
    const first = await storeArtifact("aws:s3", params, artifact, { time });
    expect(first).toEqual({ ok: true, location: `s3://${bucket}/logs/2026-01-02T03-04-05Z_payments_web-1_log`, objects: { bucket, key: "logs/2026-01-02T03-04-05Z_payments_web-1_log", file: artifact.name } });
    const again = await storeArtifact("aws:s3", params, { ...artifact, data: Buffer.from("a second copy") }, { time });
    expect(again.ok).toBe(true);
    expect(await keys("logs/")).toEqual(["logs/2026-01-02T03-04-05Z_payments_web-1_log"]);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "logs/2026-01-02T03-04-05Z_payments_web-1_log" }));
    expect(await got.Body!.transformToString()).toBe(artifact.data.toString());
    expect(got.ContentType).toBe("text/plain; charset=utf-8");
  });

  it("minio:s3 writes to the configured S3-compatible store", async () => {
    const r = await storeArtifact("minio:s3", { bucket, prefix: "files" }, artifact, { time });
    expect(r.ok).toBe(true);
    expect(await keys("files/")).toEqual(["files/2026-01-02T03-04-05Z_payments_web-1_log"]);
  });

  it("a missing bucket is a retryable failure naming the bucket", async () => {
    const r = await storeArtifact("aws:s3", { bucket: `${bucket}-missing` }, artifact, { time });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect((r as { message: string }).message).toMatch(/NoSuchBucket/);
    // the engine's shape: the location, or an error saying whether to retry
    await expect(writeArtifact("aws:s3", { bucket: `${bucket}-missing` }, artifact)).rejects.toMatchObject({ name: "ArtifactWriteError", retryable: true });
    expect(await writeArtifact("aws:s3", { bucket, prefix: "engine" }, artifact, { time })).toBe(`s3://${bucket}/engine/2026-01-02T03-04-05Z_payments_web-1_log`);
  });

  it("local:file writes a 0600 file in the destination folder, once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-artifacts-"));
    const r = await storeArtifact("local:file", { destination: dir }, artifact, { time });
    expect(r).toMatchObject({ ok: true, location: join(dir, "2026-01-02T03-04-05Z_payments_web-1_log") });
    expect(await storeArtifact("local:file", { destination: dir }, { ...artifact, data: Buffer.from("other") }, { time })).toMatchObject({ ok: true });
    expect(readdirSync(dir)).toEqual(["2026-01-02T03-04-05Z_payments_web-1_log"]);
    const path = join(dir, "2026-01-02T03-04-05Z_payments_web-1_log");
    expect(readFileSync(path, "utf8")).toBe(artifact.data.toString());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await storeArtifact("local:file", { destination: join(dir, "nope") }, artifact, { time })).toMatchObject({ ok: false, retryable: false });
  });
});

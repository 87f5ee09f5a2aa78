// The S3 output against the real S3-compatible server of the harness (`npm run services -- up s3`):
// direct sends, then 10,000 alerts through the real router with the server stopped and restarted.
import { gunzipSync } from "node:zlib";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { s3Output } from "../../outputs/s3/index.js";
import { batchId, compileKeyTemplate, keyContext, keySegment } from "../../outputs/s3/key.js";
import { classifyS3Error, describeHeadBucketError } from "../../outputs/s3/classify.js";
import { S3 } from "../harness/endpoints.js";
import { freePort } from "../harness/receiver.js";
import { startRouter, waitUntil } from "../harness/router-process.js";
import { services } from "../harness/services.js";

const s3Client = () =>
  new S3Client({
    endpoint: S3.endpoint,
    region: S3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey },
  });

let n = 0;
function alert(over: Partial<Alert> = {}): Alert {
  n++;
  const hex = n.toString(16).padStart(12, "0");
  return {
    uuid: `${Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, "0")}-0000-4000-8000-${hex}`,
    time: new Date(Date.UTC(2024, 2, 5, 7, 8, 9) + n).toISOString().replace("Z", "123456Z"),
    priority: "Warning",
    rule: "Write below etc",
    output: `File below /etc opened for writing (n=${n})`,
    output_fields: { "fd.name": "/etc/passwd", "proc.name": "vi", n },
    source: "syscall",
    tags: ["filesystem"],
    hostname: "node-1",
    ...over,
  };
}

function createS3(options: Record<string, unknown>): Output {
  const ctx = new ParseContext();
  const config = s3Output.schema.parse(
    { endpoint: S3.endpoint, force_path_style: true, access_key_id: S3.accessKeyId, secret_access_key: S3.secretAccessKey, region: S3.region, ...options },
    ctx,
    "outputs[0]",
  );
  s3Output.validate!(config, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return s3Output.create(config, { name: "archive", logger: pino({ level: "silent" }), dataDir: "/tmp" });
}

/** Every object under the bucket, decompressed when gzipped, as lines of alerts. */
async function readObjects(client: S3Client, bucket: string, into = new Map<string, Alert[]>()): Promise<Map<string, Alert[]>> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (into.has(o.Key!)) continue;
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
      const raw = Buffer.from(await got.Body!.transformToByteArray());
      const text = (o.Key!.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
      into.set(o.Key!, text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Alert));
    }
    token = page.NextContinuationToken;
  } while (token);
  return into;
}

const signal = () => AbortSignal.timeout(15_000);

// This file stops and restarts the S3 server: no other test file may use it meanwhile.
let release: () => void = () => {};
beforeAll(async () => {
  release = await services.useExclusively("s3");
});
afterAll(() => release());

describe("object keys", () => {
  it("derive from the batch's content: same alerts in any order, same key", () => {
    const batch = [alert(), alert(), alert()];
    const t = compileKeyTemplate("{{year}}-{{month}}-{{day}}/{{hour}}/{{time}}-{{batch_id}}.{{extension}}", "k");
    const a = t.render(keyContext(batch, "ndjson.gz", "o"));
    expect(t.render(keyContext([...batch].reverse(), "ndjson.gz", "o"))).toBe(a);
    expect(a).toMatch(/^2024-03-05\/07\/20240305T070809\.\d{9}Z-[0-9a-f]{16}\.ndjson\.gz$/);
    expect(batchId([batch[0]!, batch[1]!])).not.toBe(batchId(batch));
  });

  it("keeps template values inside the prefix", () => {
    expect(keySegment("../../etc/passwd")).toBe(".._.._etc_passwd");
    expect(keySegment("..")).toBe("__");
    expect(keySegment("a b/c")).toBe("a_b_c");
    const t = compileKeyTemplate("{{output}}/{{batch_id}}", "k");
    expect(t.render({ ...keyContext([alert()], "ndjson", "x"), output: "../../other-tenant" })).toMatch(/^\.\._\.\._other-tenant\//);
  });

  it("a key template that escapes or breaks is refused at config check, with its position", () => {
    const check = (key: string) => {
      const ctx = new ParseContext();
      const config = s3Output.schema.parse({ bucket: "b", key }, ctx, "outputs[3]");
      s3Output.validate!(config, ctx, "outputs[3]");
      return ctx.issues.map((i) => `${i.path}: ${i.message}`);
    };
    expect(check("{{{output}}}/{{batch_id}}")).toEqual([
      "outputs[3].key: template outputs[3].key, line 1, column 1: raw output ({{{ }}} or {{& }}) is not allowed in this template; values must stay escaped",
    ]);
    expect(check("/{{batch_id}}")[0]).toMatch(/must not start with "\/"/);
    expect(check("../{{batch_id}}")[0]).toMatch(/"\.\." segment/);
    expect(check("{{year}}//{{batch_id}}")[0]).toMatch(/empty segment/);
    expect(check("{{yeer}}/{{#if}}{{/if}}")[0]).toMatch(/line 1, column 10: if takes 1 argument, got 0/);
    expect(check("{{year}}/{{hour}}/{{batch_id}}.json")).toEqual([]);
    const ctx = new ParseContext();
    s3Output.validate!(s3Output.schema.parse({ bucket: "b", prefix: "/falco" }, ctx, "outputs[0]"), ctx, "outputs[0]");
    expect(ctx.issues.map((i) => i.path)).toEqual(["outputs[0].prefix"]);
  });
});

describe("answers", () => {
  const sdkError = (name: string, status?: number) =>
    Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
  it("412 means an earlier attempt wrote this batch", () => {
    expect(classifyS3Error(sdkError("PreconditionFailed", 412))).toEqual({ kind: "ok" });
  });
  it("throttling, server errors, conflicts and a wrong destination are retried", () => {
    for (const [name, status] of [["SlowDown", 503], ["InternalError", 500], ["ConditionalRequestConflict", 409], ["NoSuchBucket", 404], ["AccessDenied", 403], ["ExpiredToken", 400], ["RequestTimeout", 400]] as const)
      expect(classifyS3Error(sdkError(name, status)), name).toMatchObject({ kind: "retry", status });
    expect(classifyS3Error(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toMatchObject({ kind: "retry", reason: "ECONNRESET: socket hang up" });
  });
  it("a request S3 will never accept is refused with its code", () => {
    expect(classifyS3Error(sdkError("InvalidArgument", 400))).toEqual({ kind: "reject", status: 400, reason: "InvalidArgument (HTTP 400): InvalidArgument happened" });
    expect(classifyS3Error(sdkError("KeyTooLongError", 400))).toMatchObject({ kind: "reject" });
  });
  it("a failed HeadBucket (no body, SDK message \"UnknownError\") is named by its status at start", () => {
    const where = "http://127.0.0.1:9000";
    expect(describeHeadBucketError(sdkError("Forbidden", 403), "b", where)).toBe(
      'access to bucket "b" at http://127.0.0.1:9000 is denied (HTTP 403); check the credentials and the bucket\'s policy',
    );
    expect(describeHeadBucketError(sdkError("PermanentRedirect", 301), "b", where)).toMatch(/^bucket "b" answered HTTP 301 .*another region/);
    expect(describeHeadBucketError(sdkError("UnknownError", 503), "b", where)).toBe(
      'checking bucket "b" at http://127.0.0.1:9000 failed: UnknownError (HTTP 503): UnknownError happened',
    );
  });
});

describe("s3 output against the S3 server", () => {
  const client = s3Client();
  const bucket = `peregrine-test-${Date.now()}`;
  let output: Output;
  beforeAll(async () => {
    await services.start("s3");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    output = createS3({ bucket, prefix: "alerts" });
  });
  afterAll(async () => {
    await output.close();
    client.destroy();
  });

  it("writes one gzipped NDJSON object per batch, with a checksum", async () => {
    const batch = Array.from({ length: 250 }, () => alert());
    expect(await output.send(batch, signal())).toEqual({ kind: "ok" });
    const objects = await readObjects(client, bucket);
    const [key, alerts] = [...objects].find(([, a]) => a[0]!.uuid === batch[0]!.uuid)!;
    expect(key).toMatch(/^alerts\/2024-03-05\/07\/\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.ndjson\.gz$/);
    expect(alerts).toEqual(batch);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    expect(head.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(head.Metadata?.["alert-count"]).toBe("250");
  });

  it("a retried batch lands on the same key once (If-None-Match: * answers 412)", async () => {
    const batch = Array.from({ length: 10 }, () => alert());
    const before = (await readObjects(client, bucket)).size;
    expect(await output.send(batch, signal())).toEqual({ kind: "ok" });
    expect(await output.send([...batch].reverse(), signal())).toEqual({ kind: "ok" });
    const after = await readObjects(client, bucket, new Map());
    expect(after.size).toBe(before + 1);
    const holding = [...after.values()].filter((alerts) => alerts.some((a) => a.uuid === batch[0]!.uuid));
    expect(holding).toHaveLength(1);
  });

  it("compression none writes plain .ndjson", async () => {
    const plain = createS3({ bucket, prefix: "plain/", compression: "none", checksum: "SHA256" });
    const batch = [alert(), alert()];
    expect(await plain.send(batch, signal())).toEqual({ kind: "ok" });
    const objects = await readObjects(client, bucket, new Map());
    const keys = [...objects.keys()].filter((k) => k.startsWith("plain/"));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/\.ndjson$/);
    expect(objects.get(keys[0]!)).toEqual(batch);
    await plain.close();
  });

  it("requests encryption at rest and a canned ACL when configured", async () => {
    const encrypted = createS3({ bucket, prefix: "sse", server_side_encryption: "AES256", acl: "bucket-owner-full-control" });
    expect(await encrypted.send([alert()], signal())).toEqual({ kind: "ok" });
    const [key] = [...(await readObjects(client, bucket, new Map())).keys()].filter((k) => k.startsWith("sse/"));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key! }));
    expect(head.ServerSideEncryption).toBe("AES256");
    await encrypted.close();
  });

  it("a missing bucket is retried (the destination, not the alerts, is wrong)", async () => {
    const missing = createS3({ bucket: `no-such-bucket-${Date.now()}` });
    expect(await missing.send([alert()], signal())).toMatchObject({ kind: "retry", status: 404, reason: expect.stringContaining("NoSuchBucket") });
    await expect(missing.healthcheck!(signal())).rejects.toThrow(
      /^bucket "no-such-bucket-\d+" does not exist at http:\/\/127\.0\.0\.1:9000 \(HTTP 404\); create it or fix bucket\/endpoint$/,
    );
    await missing.close();
  });

  it("an unreachable server is retried", async () => {
    const down = createS3({ bucket, endpoint: `http://127.0.0.1:${await freePort()}` });
    expect(await down.send([alert()], signal())).toMatchObject({ kind: "retry", reason: expect.stringContaining("ECONNREFUSED") });
    await expect(down.healthcheck!(signal())).rejects.toThrow(/^cannot reach S3 at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    await down.close();
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface OutputStatus {
  queue_depth: number;
  in_flight: number;
  delivered: number;
  dead_lettered: number;
}

describe("s3 output through the router", () => {
  it("10,000 alerts, S3 server stopped and restarted mid-stream: all archived, each exactly once", async () => {
    await services.start("s3");
    const client = s3Client();
    const bucket = `peregrine-e2e-${Date.now()}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const router = await startRouter({
      config: {
        outputs: [
          {
            name: "archive",
            type: "s3",
            bucket,
            prefix: "e2e",
            endpoint: S3.endpoint,
            region: S3.region,
            force_path_style: true,
            access_key_id: S3.accessKeyId,
            secret_access_key: S3.secretAccessKey,
            // Smaller, quicker batches than the archive defaults (10 MB / 60 s), so the stream spans many objects.
            batch: { max_events: 500, max_wait_ms: 200 },
            retry: { initial_ms: 100, max_ms: 1000 },
            circuit: { failure_threshold: 5, open_ms: 500 },
          },
        ],
      },
    });
    const collected = new Map<string, Alert[]>();
    const sent: string[] = [];
    try {
      const produce = (async () => {
        for (let chunk = 0; chunk < 100; chunk++) {
          const alerts = Array.from({ length: 100 }, () => alert());
          for (const a of alerts) sent.push(a.uuid);
          const res = await router.post(alerts.map((a) => JSON.stringify(a)).join("\n"), "application/x-ndjson");
          if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.json)}`);
          await sleep(60);
        }
      })();

      await waitUntil(() => sent.length >= 3000, 60_000, "3,000 alerts sent");
      // The harness's S3 server keeps objects in memory, so its restart forgets them. What it
      // stored before the stop is read first, with the router paused so nothing is written
      // between that read and the stop; requests in flight are cut by the stop as in a crash.
      const pid = router.proc.pid!;
      process.kill(pid, "SIGSTOP");
      try {
        await readObjects(client, bucket, collected);
        await services.stop("s3");
      } finally {
        process.kill(pid, "SIGCONT");
      }
      const objectsBeforeOutage = collected.size;
      await sleep(2500); // alerts keep arriving; every write fails meanwhile
      await services.start("s3");
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await produce;

      let status: OutputStatus | undefined;
      await waitUntil(
        async () => {
          const health = (await router.get("/healthz")).json as { outputs: OutputStatus[] };
          status = health.outputs[0];
          return status !== undefined && status.queue_depth === 0 && status.in_flight === 0;
        },
        120_000,
        "the S3 lane to drain",
      );
      await readObjects(client, bucket, collected);

      const objectOf = new Map<string, string>();
      const duplicates: string[] = [];
      let lines = 0;
      for (const [key, alerts] of collected) {
        expect(key).toMatch(/^e2e\/\d{4}-\d{2}-\d{2}\/\d{2}\/\d{8}T\d{6}\.\d{9}Z-[0-9a-f]{16}\.ndjson\.gz$/);
        for (const a of alerts) {
          lines++;
          const other = objectOf.get(a.uuid);
          if (other !== undefined) duplicates.push(`${a.uuid} in ${other} and ${key}`);
          objectOf.set(a.uuid, key);
        }
      }
      expect(duplicates).toEqual([]);
      expect(lines).toBe(10_000);
      const missing = sent.filter((u) => !objectOf.has(u));
      expect(missing).toEqual([]);
      expect(status).toMatchObject({ delivered: 10_000, dead_lettered: 0 });
      expect(objectsBeforeOutage).toBeGreaterThan(0);
      expect(collected.size).toBeGreaterThan(objectsBeforeOutage);
      console.info(`s3 e2e: 10000 alerts in ${collected.size} objects (${objectsBeforeOutage} before the outage)`);
    } finally {
      await router.stop();
      client.destroy();
    }
  });
});

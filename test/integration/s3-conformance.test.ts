// The S3 output through the real router against the harness's S3 server: the output
// conformance suite at the acceptance volume (10,000 alerts).
//
// The server (moto) keeps objects in memory, so a restart forgets what it held. To judge
// "nothing lost" across a restart, the router writes through a gateway: stopping the service
// first closes the gateway to new writes, waits for writes in flight to finish, keeps a copy
// of every object, then stops the server. Objects are counted by key, so a batch written
// before the stop and written again after the restart (same content, same key) counts once,
// as it would be on a store that remembers (there the second write is a 412 no-op).
import { gunzipSync } from "node:zlib";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, expect } from "vitest";
import type { Alert } from "../../src/alert.js";
import { S3 } from "../harness/endpoints.js";
import { Gateway } from "../harness/gateway.js";
import { waitUntil } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { defineConformance } from "./conformance.js";

const bucket = `peregrine-conformance-${Date.now()}`;
const gw = new Gateway(S3.endpoint);
const client = new S3Client({
  endpoint: S3.endpoint,
  region: S3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey },
});
/** Objects kept from before a restart: key → the alerts' uuids. */
const kept = new Map<string, string[]>();

async function createBucket(): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

// The S3 server is taken before it is used: s3.test.ts restarts it (forgetting every
// bucket), so the bucket made here must not be made while that file holds it.
let releaseS3: (() => void) | undefined;
beforeAll(async () => {
  releaseS3 = await services.useExclusively("s3");
  await gw.start();
  await services.start("s3");
  await createBucket();
});
afterAll(async () => {
  await gw.stop();
  client.destroy();
  releaseS3?.();
});

async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

async function readAlerts(key: string): Promise<Alert[]> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const raw = Buffer.from(await got.Body!.transformToByteArray());
  const text = (key.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Alert);
}

/** key → uuids for one run: the kept copies plus what the server holds now. */
async function objectsOf(run: string): Promise<Map<string, string[]>> {
  const prefix = `conformance/${run}/`;
  const out = new Map<string, string[]>();
  for (const [key, uuids] of kept) if (key.startsWith(prefix)) out.set(key, uuids);
  for (const key of await listKeys(prefix)) if (!out.has(key)) out.set(key, (await readAlerts(key)).map((a) => a.uuid));
  return out;
}

async function stopService(): Promise<void> {
  gw.fault = { status: 503, body: "<Error><Code>SlowDown</Code><Message>closing for a restart</Message></Error>" };
  await waitUntil(() => gw.requests.every((r) => r.status !== 0), 30_000, "writes in flight to finish");
  for (const key of await listKeys("conformance/")) if (!kept.has(key)) kept.set(key, (await readAlerts(key)).map((a) => a.uuid));
  await services.stop("s3");
  gw.fault = undefined; // the router now meets the stopped server itself
}

async function startService(): Promise<void> {
  await services.start("s3");
  await createBucket();
}

defineConformance({
  type: "s3",
  volume: 10_000,
  exclusive: () => services.useExclusively("s3"),
  config: (run) => ({
    bucket,
    prefix: `conformance/${run}`,
    endpoint: gw.url,
    region: S3.region,
    force_path_style: true,
    access_key_id: S3.accessKeyId,
    secret_access_key: S3.secretAccessKey,
    // Batches of at most 1,000 alerts or 200 ms instead of the archive defaults (10 MB / 60 s).
    batch: { max_events: 1000, max_wait_ms: 200 },
  }),
  count: async (run) => [...(await objectsOf(run)).values()].reduce((n, u) => n + u.length, 0),
  uuids: async (run) => [...(await objectsOf(run)).values()].flat(),
  stopService,
  startService,
  faults: [
    {
      name: "HTTP 503 SlowDown",
      inject: async () => {
        gw.fault = { status: 503, body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>" };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    {
      name: "HTTP 500 InternalError",
      inject: async () => {
        gw.fault = { status: 500, body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>" };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    { name: "the S3 server stopped", inject: stopService, heal: startService },
  ],
  permanent: {
    // A request S3 will never accept: refused for good, with S3's code and message.
    before: async () => {
      gw.fault = { status: 400, body: "<Error><Code>InvalidArgument</Code><Message>Invalid storage class for this bucket.</Message></Error>" };
    },
    after: async () => {
      gw.fault = undefined;
    },
    reason: /InvalidArgument \(HTTP 400\): Invalid storage class/,
  },
  async checkDelivered(run, alerts) {
    const objects = await objectsOf(run);
    const byUuid = new Map(alerts.map((a) => [a.uuid, a]));
    for (const [key, uuids] of objects) {
      expect(key).toMatch(new RegExp(`^conformance/${run}/\\d{4}-\\d{2}-\\d{2}/\\d{2}/\\d{8}T\\d{6}\\.\\d{9}Z-[0-9a-f]{16}\\.ndjson\\.gz$`));
      expect(uuids.length).toBeLessThanOrEqual(1000);
    }
    // Lines are the alerts as accepted, field for field.
    const [firstKey] = objects.keys();
    for (const a of await readAlerts(firstKey!)) expect(a).toEqual(byUuid.get(a.uuid));
  },
});

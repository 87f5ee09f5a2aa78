// The SQS output through the real router against the harness's moto server (which serves SQS
// on the S3 endpoint): the output conformance suite. Messages are read back through the SDK
// (ReceiveMessage + DeleteMessageBatch) into a local record per run, one queue per run.
//
// moto keeps queues in memory, so a restart forgets them: stopping the service first closes
// the gateway to new calls, waits for calls in flight, drains every queue into the record,
// then stops the server; starting it again recreates the queues.
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, expect } from "vitest";
import type { Alert } from "../../src/alert.js";
import { S3 } from "../harness/endpoints.js";
import { Gateway } from "../harness/gateway.js";
import { waitUntil } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { defineConformance } from "./conformance.js";

const gw = new Gateway(S3.endpoint);
const client = new SQSClient({
  endpoint: S3.endpoint,
  region: S3.region,
  credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey },
});
/** run → its queue's creation. */
const queues = new Map<string, Promise<string>>();
/** run → the messages read back so far (bodies, duplicates included). */
const received = new Map<string, Alert[]>();

function queueName(run: string): string {
  return `peregrine-conformance-${run}`;
}

/** moto's queue URL: its endpoint, the default account, the name. */
function queueUrl(run: string): string {
  return `${S3.endpoint}/123456789012/${queueName(run)}`;
}

function ensureQueue(run: string): Promise<string> {
  let q = queues.get(run);
  if (!q) {
    q = client.send(new CreateQueueCommand({ QueueName: queueName(run) })).then((out) => out.QueueUrl!);
    queues.set(run, q);
  }
  return q;
}

/** Reads and deletes every message now in the run's queue. */
async function drain(run: string): Promise<Alert[]> {
  const url = await ensureQueue(run);
  const got = received.get(run) ?? [];
  received.set(run, got);
  for (;;) {
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) return got;
    for (const m of messages) got.push(JSON.parse(m.Body!) as Alert);
    await client.send(
      new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
    );
  }
}

let releaseS3: (() => void) | undefined;
beforeAll(async () => {
  releaseS3 = await services.useExclusively("s3");
  await gw.start();
  await services.start("s3");
});
afterAll(async () => {
  await gw.stop();
  client.destroy();
  releaseS3?.();
});

async function stopService(): Promise<void> {
  gw.fault = { status: 503, body: '{"__type":"com.amazonaws.sqs#ServiceUnavailable","message":"closing for a restart"}', headers: { "content-type": "application/x-amz-json-1.0" } };
  await waitUntil(() => gw.requests.every((r) => r.status !== 0), 30_000, "calls in flight to finish");
  for (const run of queues.keys()) await drain(run);
  await services.stop("s3");
  gw.fault = undefined; // the router now meets the stopped server itself
}

async function startService(): Promise<void> {
  await services.start("s3");
  const runs = [...queues.keys()];
  queues.clear();
  for (const run of runs) await ensureQueue(run);
}

const jsonFault = (status: number, type: string, message: string) => ({
  status,
  body: JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message }),
  headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-query-error": `${type};${status < 500 ? "Sender" : "Receiver"}` },
});

defineConformance({
  type: "sqs",
  // moto answers a SendMessageBatch or a ReceiveMessage in tens of milliseconds on a busy
  // machine: 500 alerts keep reading them back well inside the test's time.
  volume: 500,
  deliveryTimeoutMs: 100_000,
  exclusive: () => services.useExclusively("s3"),
  config: (run) => {
    void ensureQueue(run);
    return {
      queue_url: queueUrl(run),
      endpoint: gw.url,
      region: S3.region,
      access_key_id: S3.accessKeyId,
      secret_access_key: S3.secretAccessKey,
    };
  },
  count: async (run) => (await drain(run)).length,
  uuids: async (run) => (await drain(run)).map((a) => a.uuid),
  stopService,
  startService,
  faults: [
    {
      name: "HTTP 503 ServiceUnavailable",
      inject: async () => {
        gw.fault = jsonFault(503, "ServiceUnavailable", "Service is unable to handle requests.");
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    {
      name: "HTTP 400 RequestThrottled",
      inject: async () => {
        gw.fault = jsonFault(400, "RequestThrottled", "Rate exceeded.");
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    { name: "the SQS server stopped", inject: stopService, heal: startService },
  ],
  permanent: {
    // The queue takes messages of at most 1,024 bytes: the padded alerts are refused for good
    // (SQS fails the whole call, the output then sends each message alone), the others arrive.
    before: async (run) => {
      const url = await ensureQueue(run);
      await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { MaximumMessageSize: "1024" } }));
    },
    alert: (a) => ({ ...a, output: `${a.output} ${"x".repeat(2048)}` }),
    reason: /InvalidParameterValue \(HTTP 400\): .*Message must be shorter than 1024 bytes/,
  },
  async checkDelivered(run, alerts) {
    // Messages are the alerts as accepted, field for field.
    const byUuid = new Map(alerts.map((a) => [a.uuid, a]));
    const got = await drain(run);
    expect(got.length).toBe(alerts.length);
    for (const a of got.slice(0, 50)) expect(a).toEqual(byUuid.get(a.uuid));
  },
});

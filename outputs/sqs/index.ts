import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
  type SQSClientConfig,
} from "@aws-sdk/client-sqs";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { classifyEntryFailure, classifySqsError, describeQueueError } from "./classify.js";

/** SendMessageBatch takes at most 10 entries per call. */
export const ENTRIES_PER_CALL = 10;
/** The payload SendMessageBatch accepts per call (the sum of the bodies); a longer lone message still goes alone. */
export const BYTES_PER_CALL = 256 * 1024;

const schema = s.object({
  queue_url: s.string().asUrl().describe("The queue's URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/falco (a name ending in .fifo is a FIFO queue)."),
  region: s.string().optional().describe("The queue's region; read from an AWS queue URL (sqs.<region>.amazonaws.com) when absent, else us-east-1."),
  endpoint: s.string().asUrl().optional().describe("Endpoint of an SQS-compatible service (LocalStack, moto, ElasticMQ, a VPC endpoint); the queue URL's host when absent."),
  access_key_id: s.string().optional().describe("Static credentials; when absent, the AWS default chain (env, profile, web identity, instance role)."),
  secret_access_key: s.string().optional().describe("Goes with access_key_id (a secret: prefer ${ENV} or ${file:...})."),
  session_token: s.string().optional().describe("Session token of temporary credentials."),
  message_group_id: s.string().notEmpty().default("falco").describe("FIFO queues only: the message group of every alert (alerts keep their order within it)."),
});

/** `sqs.eu-west-1.amazonaws.com` → eu-west-1. */
export function regionOfQueueUrl(url: string): string | undefined {
  try {
    return /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(url).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/** Splits the batch into calls: at most 10 entries and 256 KiB of bodies each, in order. */
export function chunkEntries(bodies: readonly string[]): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  bodies.forEach((body, i) => {
    const size = Buffer.byteLength(body);
    if (current.length > 0 && (current.length === ENTRIES_PER_CALL || bytes + size > BYTES_PER_CALL)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Sends each alert as one SQS message (the alert's JSON, as Falcosidekick does), 10 per
 * SendMessageBatch call. SQS answers per entry: entries it refused for good (SenderFault) go
 * to the dead letters, the others are retried, and only those. A FIFO queue gets the alert's
 * uuid as the deduplication id, so a retried alert is stored once within SQS's 5-minute window.
 * The SDK's own retries are off: the lane retries.
 */
export const sqsOutput = defineOutput({
  type: "sqs",
  summary: "Sends each alert as an Amazon SQS message (SendMessageBatch, 10 per call; per-message failures retried or dead-lettered alone).",
  schema,
  laneDefaults: {
    batch: { max_events: 100, max_wait_ms: 500 },
    concurrency: 4,
  },
  validate(config, ctx, path) {
    if ((config.access_key_id === undefined) !== (config.secret_access_key === undefined))
      ctx.error(`${path}.${config.access_key_id === undefined ? "access_key_id" : "secret_access_key"}`, "access_key_id and secret_access_key go together");
    const segments = new URL(config.queue_url).pathname.split("/").filter((x) => x !== "");
    if (segments.length !== 2) ctx.error(`${path}.queue_url`, `an SQS queue URL ends in /<account id>/<queue name>, not "${new URL(config.queue_url).pathname}"`);
  },
  create(config) {
    const fifo = config.queue_url.replace(/\/+$/, "").endsWith(".fifo");
    const clientConfig: SQSClientConfig = {
      region: config.region ?? regionOfQueueUrl(config.queue_url) ?? "us-east-1",
      maxAttempts: 1,
    };
    if (config.endpoint !== undefined) clientConfig.endpoint = config.endpoint;
    if (config.access_key_id !== undefined && config.secret_access_key !== undefined) {
      clientConfig.credentials = {
        accessKeyId: config.access_key_id,
        secretAccessKey: config.secret_access_key,
        ...(config.session_token !== undefined ? { sessionToken: config.session_token } : {}),
      };
    }
    const client = new SQSClient(clientConfig);

    function entry(alert: Alert, body: string, id: number): SendMessageBatchRequestEntry {
      return {
        Id: String(id),
        MessageBody: body,
        ...(fifo ? { MessageGroupId: config.message_group_id, MessageDeduplicationId: alert.uuid } : {}),
      };
    }

    /** One call; results by position in `indexes`. */
    async function sendCall(batch: readonly Alert[], bodies: readonly string[], indexes: readonly number[], signal: AbortSignal): Promise<SendResult[]> {
      try {
        const out = await client.send(
          new SendMessageBatchCommand({ QueueUrl: config.queue_url, Entries: indexes.map((i, k) => entry(batch[i]!, bodies[i]!, k)) }),
          { abortSignal: signal },
        );
        const results: SendResult[] = indexes.map(() => ({ kind: "ok" }));
        for (const f of out.Failed ?? []) {
          const k = Number(f.Id);
          if (Number.isInteger(k) && k >= 0 && k < results.length) results[k] = classifyEntryFailure(f);
        }
        // An entry SQS neither accepted nor refused (should not happen): try it again.
        const answered = new Set([...(out.Successful ?? []).map((x) => x.Id), ...(out.Failed ?? []).map((x) => x.Id)]);
        indexes.forEach((_, k) => {
          if (!answered.has(String(k))) results[k] = { kind: "retry", reason: "SQS did not answer for this message" };
        });
        return results;
      } catch (err) {
        const result = classifySqsError(err);
        // A whole call refused for good (a message too long, an invalid parameter) does not
        // say which message: each is sent alone so only the bad ones go to the dead letters.
        if (result.kind === "reject" && indexes.length > 1) {
          const alone = await Promise.all(indexes.map((i) => sendCall(batch, bodies, [i], signal)));
          return alone.map((r) => r[0]!);
        }
        return indexes.map(() => result);
      }
    }

    return {
      async send(batch, signal): Promise<SendResult> {
        const bodies = batch.map((a) => JSON.stringify(a));
        const chunks = chunkEntries(bodies);
        const results: SendResult[] = new Array<SendResult>(batch.length);
        if (fifo) {
          // One call after the other, so the group keeps the alerts' order.
          for (const chunk of chunks) (await sendCall(batch, bodies, chunk, signal)).forEach((r, k) => (results[chunk[k]!] = r));
        } else {
          const answers = await Promise.all(chunks.map((chunk) => sendCall(batch, bodies, chunk, signal)));
          answers.forEach((rs, c) => rs.forEach((r, k) => (results[chunks[c]![k]!] = r)));
        }
        const failed = results.flatMap((result, index) => (result.kind === "ok" ? [] : [{ index, result }]));
        if (failed.length === 0) return { kind: "ok" };
        if (batch.length === 1) return failed[0]!.result;
        return { kind: "partial", failed };
      },
      async healthcheck(signal) {
        try {
          await client.send(new GetQueueAttributesCommand({ QueueUrl: config.queue_url, AttributeNames: ["QueueArn"] }), { abortSignal: signal });
        } catch (err) {
          throw new Error(describeQueueError(err, config.queue_url), { cause: err });
        }
      },
      async close() {
        client.destroy();
      },
    };
  },
});

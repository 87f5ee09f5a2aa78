import { Readable } from "node:stream";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { HeadBucketCommand, PutObjectCommand, S3Client, type ChecksumAlgorithm, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { readBodyExcerpt } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { checkTemplate } from "../../src/templates/index.js";
import { classifyS3Error, describeHeadBucketError } from "./classify.js";
import { checkKeyLength, compileKeyTemplate, DEFAULT_KEY_TEMPLATE, joinKey, keyContext, keyProblem } from "./key.js";

const gzipAsync = promisify(gzip);

/**
 * The SDK reads an error answer's whole body to parse its XML: a store answering 500 with
 * hundreds of MiB would be held in memory. Innermost in the deserialize step (closest to
 * the network), this hands the parser at most a few KiB of a non-2xx body and drops the rest.
 */
function boundErrorBodies(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as { statusCode?: number; body?: unknown };
      const body = response.body as (AsyncIterable<Uint8Array> & { destroy(): unknown }) | undefined;
      if ((response.statusCode ?? 200) >= 300 && body && typeof body.destroy === "function" && Symbol.asyncIterator in body) {
        const excerpt = await readBodyExcerpt(body);
        response.body = Readable.from([Buffer.from(excerpt.replace(/…$/, ""))]);
      }
      return out;
    },
    { step: "deserialize", priority: "low", name: "peregrineBoundedErrorBody" },
  );
}

const schema = s.object({
  bucket: s.string().notEmpty().describe("The bucket objects are written to."),
  prefix: s.string().default("falco").describe("Literal start of every key (Falcosidekick's default too); the key template fills what follows it."),
  region: s.string().default("us-east-1").describe("The bucket's region."),
  endpoint: s.string().asUrl().optional().describe("Endpoint of an S3-compatible store (MinIO, Ceph, ...); AWS's when absent."),
  force_path_style: s.boolean().default(false).describe("Address the bucket in the path (http://host/bucket/key), as most S3-compatible stores want."),
  access_key_id: s.string().optional().describe("Static credentials; when absent, the AWS default chain (env, profile, web identity, instance role)."),
  secret_access_key: s.string().optional().describe("Goes with access_key_id (a secret: prefer ${ENV} or ${file:...})."),
  session_token: s.string().optional().describe("Session token of temporary credentials."),
  key: s.string().default(DEFAULT_KEY_TEMPLATE).describe("Key template after the prefix (docs/outputs/s3.md); values are reduced to A-Z a-z 0-9 . _ -."),
  compression: s.string().oneOf(["gzip", "none"]).default("gzip").describe("gzip writes .ndjson.gz objects."),
  checksum: s.string().oneOf(["CRC32", "CRC32C", "SHA1", "SHA256"]).default("CRC32").describe("Integrity checksum sent with every object and verified by the store."),
  storage_class: s.string().optional().describe("Storage class of new objects (e.g. STANDARD_IA, GLACIER_IR)."),
  server_side_encryption: s.string().oneOf(["AES256", "aws:kms"]).optional().describe("Encryption at rest requested per object; the bucket's default applies when absent."),
  kms_key_id: s.string().optional().describe("The KMS key of aws:kms encryption (the AWS-managed key when absent)."),
  acl: s.string().oneOf(["private", "bucket-owner-read", "bucket-owner-full-control"]).optional().describe("Canned ACL, for buckets of another account that still use ACLs (Falcosidekick sets bucket-owner-full-control)."),
});

/** The sample a key template is checked against at `config check`. */
const SAMPLE_BATCH: Alert[] = [
  {
    uuid: "00000000-0000-4000-8000-000000000000",
    time: "2024-01-02T03:04:05.123456789Z",
    priority: "Warning",
    rule: "sample",
    output: "",
    output_fields: {},
    source: "syscall",
    tags: [],
    hostname: "",
  },
];

/**
 * Archives alerts as NDJSON objects (gzip by default), one object per batch. Each key is
 * derived from the batch's content and written with `If-None-Match: *`, so a retried
 * batch lands on the same key exactly once. The SDK's own retries are off: the lane retries.
 */
export const s3Output = defineOutput({
  type: "s3",
  summary: "Archives alerts in S3 (or an S3-compatible store) as gzipped NDJSON objects, each batch written exactly once.",
  schema,
  laneDefaults: {
    batch: { max_events: 100_000, max_bytes: 10 * 1024 * 1024, max_wait_ms: 60_000 },
    concurrency: 2,
  },
  validate(config, ctx, path) {
    if (config.kms_key_id !== undefined && config.server_side_encryption !== "aws:kms")
      ctx.error(`${path}.kms_key_id`, 'goes with server_side_encryption: "aws:kms"');
    if ((config.access_key_id === undefined) !== (config.secret_access_key === undefined))
      ctx.error(`${path}.${config.access_key_id === undefined ? "access_key_id" : "secret_access_key"}`, "access_key_id and secret_access_key go together");
    if (config.prefix.startsWith("/") || config.prefix.includes("//"))
      ctx.error(`${path}.prefix`, `S3 keys have no leading "/" and no empty segments: write "falco/alerts", not "${config.prefix}"`);
    checkTemplate(ctx, `${path}.key`, () => {
      const t = compileKeyTemplate(config.key, `${path}.key`);
      const rendered = t.render(keyContext(SAMPLE_BATCH, "ndjson.gz", "sample"));
      const problem = keyProblem(rendered);
      if (problem) throw new Error(problem);
    });
  },
  create(config, ctx) {
    const template = compileKeyTemplate(config.key, `${ctx.name}.key`);
    const gzipped = config.compression === "gzip";
    const extension = gzipped ? "ndjson.gz" : "ndjson";
    const clientConfig: S3ClientConfig = {
      region: config.region,
      forcePathStyle: config.force_path_style,
      maxAttempts: 1,
      requestChecksumCalculation: "WHEN_SUPPORTED",
      responseChecksumValidation: "WHEN_SUPPORTED",
    };
    if (config.endpoint !== undefined) clientConfig.endpoint = config.endpoint;
    if (config.access_key_id !== undefined && config.secret_access_key !== undefined) {
      clientConfig.credentials = {
        accessKeyId: config.access_key_id,
        secretAccessKey: config.secret_access_key,
        ...(config.session_token !== undefined ? { sessionToken: config.session_token } : {}),
      };
    }
    const client = new S3Client(clientConfig);
    boundErrorBodies(client);

    function objectKey(batch: readonly Alert[]): { key: string } | { problem: string } {
      const rendered = template.render(keyContext(batch, extension, ctx.name));
      const key = joinKey(config.prefix, rendered);
      const problem = keyProblem(rendered) ?? checkKeyLength(key);
      return problem ? { problem } : { key };
    }

    return {
      async send(batch, signal): Promise<SendResult> {
        let key: string;
        let body: Buffer;
        try {
          const k = objectKey(batch);
          if ("problem" in k) return { kind: "reject", reason: k.problem };
          key = k.key;
          let ndjson = "";
          for (const alert of batch) ndjson += `${JSON.stringify(alert)}\n`;
          body = gzipped ? await gzipAsync(ndjson) : Buffer.from(ndjson);
        } catch (err) {
          return { kind: "reject", reason: `cannot encode the batch: ${errorMessage(err)}` };
        }
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: config.bucket,
              Key: key,
              Body: body,
              ContentType: gzipped ? "application/gzip" : "application/x-ndjson",
              IfNoneMatch: "*",
              ChecksumAlgorithm: config.checksum as ChecksumAlgorithm,
              Metadata: { "alert-count": String(batch.length) },
              ...(config.storage_class !== undefined ? { StorageClass: config.storage_class as never } : {}),
              ...(config.server_side_encryption !== undefined ? { ServerSideEncryption: config.server_side_encryption as never } : {}),
              ...(config.kms_key_id !== undefined ? { SSEKMSKeyId: config.kms_key_id } : {}),
              ...(config.acl !== undefined ? { ACL: config.acl as never } : {}),
            }),
            { abortSignal: signal },
          );
          return { kind: "ok" };
        } catch (err) {
          return classifyS3Error(err);
        }
      },
      async healthcheck(signal) {
        try {
          await client.send(new HeadBucketCommand({ Bucket: config.bucket }), { abortSignal: signal });
        } catch (err) {
          throw new Error(describeHeadBucketError(err, config.bucket, config.endpoint ?? `AWS region ${config.region}`), { cause: err });
        }
      },
      async close() {
        client.destroy();
      },
    };
  },
});

import type { SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";

/** Error names S3 (and compatible stores) use for conditions that pass. */
const TRANSIENT = new Set([
  "SlowDown",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "ExpiredToken",
  "RequestTimeTooSkewed",
  "TokenRefreshRequired",
  "ConditionalRequestConflict",
  "OperationAborted",
  "TimeoutError",
  "AbortError",
]);

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/**
 * A missing bucket or refused credentials say nothing about the alerts: once an operator
 * fixes the destination they go through, so they wait in the journal (the circuit opens and
 * the healthcheck names the problem) rather than fill the dead-letter store.
 */
const DESTINATION = new Set(["NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "AccountProblem"]);

/**
 * Classifies a failed PutObject. 412 means the key exists: an earlier attempt of this very
 * batch was written (its answer was lost), so the batch is delivered. Throttling, 5xx,
 * 408/409/429, expired credentials, destination problems (no such bucket, access denied)
 * and network failures are retried; other 4xx (a request S3 will never accept, such as
 * an over-long key) are refused for good and go to the dead letters.
 */
export function classifyS3Error(err: unknown): SendResult {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? "Error";
  const reason = `${name}${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err)}`;
  if (status === 412 || name === "PreconditionFailed") return { kind: "ok" };
  if (status === undefined) return { kind: "retry", reason: e.code ? `${e.code}: ${errorMessage(err)}` : reason };
  if (status === 408 || status === 409 || status === 429 || status >= 500 || TRANSIENT.has(name) || DESTINATION.has(name) || e.$retryable)
    return { kind: "retry", reason, status };
  return { kind: "reject", reason, status };
}

/**
 * Why HeadBucket failed, in words. Its answers have no body, so the SDK's own message is
 * only "UnknownError" or "NotFound": the status says what is wrong with the destination.
 */
export function describeHeadBucketError(err: unknown, bucket: string, where: string): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return `cannot reach S3 at ${where}: ${e.code ? `${e.code}: ` : ""}${errorMessage(err)}`;
  if (status === 404) return `bucket "${bucket}" does not exist at ${where} (HTTP 404); create it or fix bucket/endpoint`;
  if (status === 403)
    return `access to bucket "${bucket}" at ${where} is denied (HTTP 403); check the credentials and the bucket's policy`;
  if (status === 301 || status === 400)
    return `bucket "${bucket}" answered HTTP ${status} at ${where}; it is likely in another region than the configured one`;
  return `checking bucket "${bucket}" at ${where} failed: ${e.Code ?? e.name ?? "Error"} (HTTP ${status}): ${errorMessage(err)}`;
}

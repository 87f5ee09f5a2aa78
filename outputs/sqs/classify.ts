import type { SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Error names of conditions that pass: throttling, the service's own trouble, timeouts. */
const TRANSIENT = new Set([
  "RequestThrottled",
  "ThrottlingException",
  "Throttling",
  "KmsThrottled",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "RequestTimeout",
  "RequestTimeoutException",
  "ExpiredToken",
  "RequestTimeTooSkewed",
  "TimeoutError",
  "AbortError",
]);

/**
 * A missing queue or refused credentials say nothing about the alerts: once the destination
 * is fixed they go through, so they wait in the journal (the circuit opens, the healthcheck
 * names the problem) rather than fill the dead-letter store.
 */
const DESTINATION = new Set([
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
  "QueueDeletedRecently",
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "InvalidSecurity",
  "KmsDisabled",
  "KmsNotFound",
  "KmsAccessDenied",
  "KmsInvalidState",
  "KmsUnavailable",
]);

/** The error's code as SQS names it (the JSON protocol's `__type`, without its namespace). */
export function errorName(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const name = e.Code ?? e.name ?? "Error";
  return name.includes("#") ? name.slice(name.lastIndexOf("#") + 1) : name;
}

/**
 * Classifies a failed SendMessageBatch call (the whole call, not one entry). Throttling,
 * 5xx, 408/429, network errors and destination problems are retried; other 4xx (a request
 * SQS will never accept: a message too long, a bad parameter) are refused for good.
 */
export function classifySqsError(err: unknown): SendResult {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = errorName(err);
  const reason = `${name}${status ? ` (HTTP ${status})` : ""}: ${errorMessage(err)}`;
  if (status === undefined) return { kind: "retry", reason: e.code ? `${e.code}: ${errorMessage(err)}` : reason };
  if (status === 408 || status === 429 || status >= 500 || TRANSIENT.has(name) || DESTINATION.has(name) || e.$retryable)
    return { kind: "retry", reason, status };
  return { kind: "reject", reason, status };
}

/**
 * One failed entry of a batch: SQS says whether the sender is at fault (the message will
 * never be accepted) or the service is (try again). Throttling codes are retried either way.
 */
export function classifyEntryFailure(entry: { Code?: string; Message?: string; SenderFault?: boolean }): SendResult {
  const code = entry.Code ?? "Error";
  const reason = `${code}: ${entry.Message ?? "refused by SQS"}`;
  if (!entry.SenderFault || TRANSIENT.has(code) || DESTINATION.has(code)) return { kind: "retry", reason };
  return { kind: "reject", reason };
}

/** Why GetQueueAttributes failed, in words, for the start-up healthcheck. */
export function describeQueueError(err: unknown, queueUrl: string): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = errorName(err);
  if (status === undefined) return `cannot reach SQS for ${queueUrl}: ${e.code ? `${e.code}: ` : ""}${errorMessage(err)}`;
  if (name === "QueueDoesNotExist" || name === "AWS.SimpleQueueService.NonExistentQueue")
    return `queue ${queueUrl} does not exist (HTTP ${status}); create it or fix queue_url/region`;
  if (status === 403 || DESTINATION.has(name)) return `access to queue ${queueUrl} is denied: ${name} (HTTP ${status}): ${errorMessage(err)}`;
  return `checking queue ${queueUrl} failed: ${name} (HTTP ${status}): ${errorMessage(err)}`;
}

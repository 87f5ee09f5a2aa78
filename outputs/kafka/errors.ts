/**
 * KafkaJS errors -> SendResult, in one place. Permanent refusals (a record too large, an
 * invalid topic, a denied ACL) are rejects; everything else — broker down, leader moving,
 * timeouts, and also failed authentication — is a retry, so alerts wait in the journal
 * while an operator fixes the broker or the credentials.
 */
import type { SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";

/** Broker error codes a retry cannot fix. */
const PERMANENT = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_TOPIC_EXCEPTION",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_REQUIRED_ACKS",
  "INVALID_TIMESTAMP",
  "UNSUPPORTED_COMPRESSION_TYPE",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "POLICY_VIOLATION",
  "INVALID_REQUEST",
]);

interface KafkaJSErrorLike {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  originalError?: unknown;
  cause?: unknown;
}

/** The innermost error: KafkaJSNumberOfRetriesExceeded and friends wrap the real one. */
export function rootCause(err: unknown): KafkaJSErrorLike {
  let e = err as KafkaJSErrorLike;
  for (let i = 0; i < 10; i++) {
    const inner = (e?.originalError ?? e?.cause) as KafkaJSErrorLike | undefined;
    if (!inner || typeof inner !== "object") break;
    e = inner;
  }
  return e ?? {};
}

export function describeKafkaError(err: unknown): string {
  const root = rootCause(err);
  const type = root.type && root.type !== "UNKNOWN" ? `${root.type}: ` : "";
  const name = root.name ?? (err as KafkaJSErrorLike)?.name ?? "Error";
  return `${name}: ${type}${errorMessage(root).trim()}`;
}

export function classifyKafkaError(err: unknown): SendResult {
  const root = rootCause(err);
  const reason = describeKafkaError(err);
  if (root.name === "KafkaJSProtocolError" && root.type !== undefined && PERMANENT.has(root.type))
    return { kind: "reject", reason };
  return { kind: "retry", reason };
}

export function isAuthenticationError(err: unknown): boolean {
  const root = rootCause(err);
  return root.name === "KafkaJSSASLAuthenticationError" || root.type === "SASL_AUTHENTICATION_FAILED";
}

/** The broker refused the request as too large: smaller requests may pass. */
export function isSizeError(err: unknown): boolean {
  const type = rootCause(err).type;
  return type === "MESSAGE_TOO_LARGE" || type === "RECORD_LIST_TOO_LARGE";
}

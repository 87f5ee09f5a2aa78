// The SQS output's pure parts: how a batch is split into SendMessageBatch calls, the region
// read from a queue URL, and which answers are retried or refused.
import { describe, expect, it } from "vitest";
import { classifyEntryFailure, classifySqsError } from "../../outputs/sqs/classify.js";
import { BYTES_PER_CALL, chunkEntries, regionOfQueueUrl } from "../../outputs/sqs/index.js";

function sdkError(name: string, status?: number): Error {
  return Object.assign(new Error(`${name} happened`), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}) });
}

describe("sqs output", () => {
  it("splits a batch into calls of at most 10 messages and 256 KiB, in order", () => {
    expect(chunkEntries(Array.from({ length: 23 }, () => "x")).map((c) => c.length)).toEqual([10, 10, 3]);
    const big = "y".repeat(BYTES_PER_CALL / 2);
    expect(chunkEntries([big, big, "z", "y".repeat(BYTES_PER_CALL + 1), "z"])).toEqual([[0, 1], [2], [3], [4]]);
    expect(chunkEntries([])).toEqual([]);
  });

  it("reads the region of an AWS queue URL, and none of another host", () => {
    expect(regionOfQueueUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/falco")).toBe("eu-west-1");
    expect(regionOfQueueUrl("https://sqs.cn-north-1.amazonaws.com.cn/1/q")).toBe("cn-north-1");
    expect(regionOfQueueUrl("http://127.0.0.1:9000/123456789012/falco")).toBeUndefined();
  });

  it("retries throttling, 5xx, network errors and destination problems; refuses validation errors", () => {
    expect(classifySqsError(sdkError("ServiceUnavailable", 503)).kind).toBe("retry");
    expect(classifySqsError(sdkError("RequestThrottled", 400)).kind).toBe("retry");
    expect(classifySqsError(sdkError("com.amazonaws.sqs#ThrottlingException", 400)).kind).toBe("retry");
    expect(classifySqsError(sdkError("QueueDoesNotExist", 400)).kind).toBe("retry");
    expect(classifySqsError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).kind).toBe("retry");
    expect(classifySqsError(sdkError("InvalidParameterValue", 400))).toEqual({
      kind: "reject",
      reason: "InvalidParameterValue (HTTP 400): InvalidParameterValue happened",
      status: 400,
    });
    expect(classifyEntryFailure({ Code: "InvalidMessageContents", Message: "bad", SenderFault: true })).toEqual({ kind: "reject", reason: "InvalidMessageContents: bad" });
    expect(classifyEntryFailure({ Code: "InternalError", SenderFault: false }).kind).toBe("retry");
    expect(classifyEntryFailure({ Code: "RequestThrottled", SenderFault: true }).kind).toBe("retry");
  });
});

// How the Redis output reads the server's error replies: what waits in the journal and
// what goes to the dead-letter store.
import { describe, expect, it } from "vitest";
import { classifyRedisError } from "../../outputs/redis/index.js";

const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });

describe("classifyRedisError", () => {
  it("permanent: the key's type, the ACL's refusal, a value over the server's limit", () => {
    for (const m of [
      "WRONGTYPE Operation against a key holding the wrong kind of value",
      "NOPERM User peregrine has no permissions to access the 'falco' key",
      "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
      "EXECABORT Transaction discarded because of previous errors. WRONGTYPE Operation against a key holding the wrong kind of value",
    ])
      expect(classifyRedisError(reply(m))).toEqual({ kind: "reject", reason: `Redis: ${m.replace(/^EXECABORT[^.]*\.\s*/, "")}` });
  });
  it("retried: server states that pass, authentication, connection failures", () => {
    for (const m of ["LOADING Redis is loading the dataset in memory", "OOM command not allowed when used memory > 'maxmemory'.", "READONLY You can't write against a read only replica.", "WRONGPASS invalid username-password pair or user is disabled.", "MISCONF Redis is configured to save RDB snapshots"])
      expect(classifyRedisError(reply(m)).kind).toBe("retry");
    expect(classifyRedisError(new Error("connect ECONNREFUSED 127.0.0.1:6379")).kind).toBe("retry");
    expect(classifyRedisError(new Error("Command timed out")).kind).toBe("retry");
    // Not a reply from the server: a "WRONGTYPE" in a local error message is not the server's verdict.
    expect(classifyRedisError(new Error("WRONGTYPE")).kind).toBe("retry");
  });
});

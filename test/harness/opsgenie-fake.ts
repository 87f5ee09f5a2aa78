/**
 * A contract fake of Opsgenie's Alert API (POST /v2/alerts), since tests cannot reach
 * Opsgenie. It checks each create-alert request against the documented schema and limits:
 * `Authorization: GenieKey <key>`; message required, at most 130 characters; alias 512;
 * description 15,000; at most 20 tags of 50; details a map of strings, 8000 characters in
 * all; entity 512; source 100; priority P1–P5; responders {type, name|id|username}. It
 * answers as Opsgenie does: 202 {"result":"Request will be processed",...}; 422 with
 * `errors` for an invalid request; 401 for an unknown key (keys ending in "revoked").
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface OpsgenieAlert {
  message: string;
  alias?: string;
  description?: string;
  tags?: string[];
  details?: Record<string, string>;
  entity?: string;
  priority?: string;
  responders?: { type: string; name?: string }[];
  [k: string]: unknown;
}

export interface OpsgenieFake {
  readonly url: string;
  readonly port: number;
  readonly alerts: OpsgenieAlert[];
  readonly refusals: string[];
  setFault(fault: { status: number; retryAfter?: number } | undefined): void;
  close(): Promise<void>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const maxLen = (v: unknown, n: number) => v === undefined || (typeof v === "string" && v.length <= n);

export function checkOpsgenieAlert(a: unknown): string | undefined {
  if (!isObj(a)) return "Request body is not processable";
  if (typeof a.message !== "string" || a.message.trim() === "") return "message: Message can not be empty.";
  if (a.message.length > 130) return "message: Message can not be longer than 130 characters.";
  if (!maxLen(a.alias, 512)) return "alias: Alias can not be longer than 512 characters.";
  if (!maxLen(a.description, 15_000)) return "description: Description can not be longer than 15000 characters.";
  if (!maxLen(a.entity, 512)) return "entity: Entity can not be longer than 512 characters.";
  if (!maxLen(a.source, 100)) return "source: Source can not be longer than 100 characters.";
  if (a.priority !== undefined && !["P1", "P2", "P3", "P4", "P5"].includes(a.priority as string)) return "priority: Priority should be one of [P1, P2, P3, P4, P5]";
  if (a.tags !== undefined) {
    if (!Array.isArray(a.tags) || a.tags.length > 20) return "tags: Tags can not have more than 20 elements.";
    if (a.tags.some((t) => typeof t !== "string" || t.length > 50)) return "tags: Tag can not be longer than 50 characters.";
  }
  if (a.details !== undefined) {
    if (!isObj(a.details) || Object.values(a.details).some((v) => typeof v !== "string")) return "details: Details must be a map of strings.";
    const size = Object.entries(a.details).reduce((n, [k, v]) => n + k.length + (v as string).length, 0);
    if (size > 8000) return "details: Details can not be longer than 8000 characters in total.";
  }
  if (a.responders !== undefined) {
    if (!Array.isArray(a.responders)) return "responders: must be a list";
    for (const r of a.responders)
      if (!isObj(r) || !["team", "user", "escalation", "schedule"].includes(r.type as string) || (r.name === undefined && r.id === undefined && r.username === undefined))
        return "responders: Responder type and one of id, name or username are required.";
  }
  return undefined;
}

export async function startOpsgenieFake(port = 0): Promise<OpsgenieFake> {
  const alerts: OpsgenieAlert[] = [];
  const refusals: string[] = [];
  let fault: { status: number; retryAfter?: number } | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestId = randomUUID();
      const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify({ ...body, took: 0.01, requestId }));
      };
      if (req.method !== "POST" || req.url !== "/v2/alerts") return json(404, { message: "Could not find the resource" });
      const auth = String(req.headers.authorization ?? "");
      if (!/^GenieKey \S+$/.test(auth)) return json(401, { message: "Key format is not valid!" });
      if (auth.endsWith("revoked")) return json(401, { message: "Could not authenticate" });
      if (fault) {
        if (fault.status === 429) return json(429, { message: "You are making too many requests! To avoid errors, we recommend you limit requests." }, fault.retryAfter ? { "retry-after": String(fault.retryAfter) } : {});
        return json(fault.status, { message: "Internal Server Error" });
      }
      let a: unknown;
      try {
        a = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return json(400, { message: "Request body is not processable. Please check the errors." });
      }
      const problem = checkOpsgenieAlert(a);
      if (problem) {
        refusals.push(problem);
        const [field, message] = problem.split(": ");
        return json(422, { message: "Request body is not processable. Please check the errors.", errors: { [field!]: message } });
      }
      alerts.push(a as OpsgenieAlert);
      json(202, { result: "Request will be processed" });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/v2/alerts`,
    port: p,
    alerts,
    refusals,
    setFault(f) {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

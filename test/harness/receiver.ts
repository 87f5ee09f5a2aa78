import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  at: number;
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** What the receiver answered (0 while hanging). */
  status: number;
}

/** What the receiver answers: a status (and headers), or "hang" to never answer. */
export type Behavior = (
  req: ReceivedRequest,
  index: number,
) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | "hang";

/**
 * A real HTTP receiver on loopback for delivery tests: records every request and answers
 * as told (503s, 429 with Retry-After, hangs). Can be stopped and restarted on the same port.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  behavior: Behavior = () => ({ status: 200 });
  private server?: Server;
  private hanging = new Set<ServerResponse>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(port = this.port): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r: ReceivedRequest = { at: Date.now(), method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status: 0 };
        const index = this.requests.length;
        this.requests.push(r);
        const answer = this.behavior(r, index);
        if (answer === "hang") {
          this.hanging.add(res);
          return;
        }
        r.status = answer.status;
        const reply = () => {
          res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
          res.end(answer.body ?? "{}");
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Alerts in requests answered 2xx: bodies that are an alert or an array of alerts, flattened. */
  alerts(filter: (r: ReceivedRequest) => boolean = (r) => r.status >= 200 && r.status < 300): { uuid: string; [k: string]: unknown }[] {
    const out: { uuid: string }[] = [];
    for (const r of this.requests) {
      if (!filter(r) || r.body === "") continue;
      const v = JSON.parse(r.body) as unknown;
      if (Array.isArray(v)) out.push(...(v as { uuid: string }[]));
      else out.push(v as { uuid: string });
    }
    return out;
  }
}

/** A free TCP port on loopback (there is a small race, acceptable in tests). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

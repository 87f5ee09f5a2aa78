/**
 * An HTTP gateway in front of a real service, as deployments put nginx before Loki: it
 * forwards requests to `upstream`, or answers a fault it is told to (503, 429 with
 * Retry-After, 413 above a body size), so tests can drive an output through the failures
 * the real service does not produce on demand. It records every request's size and answer.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";

export interface GatewayFault {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface GatewayRequest {
  at: number;
  bytes: number;
  status: number;
  headers: Record<string, string>;
}

export class Gateway {
  readonly requests: GatewayRequest[] = [];
  /** When set, every request gets this answer instead of being forwarded. */
  fault: GatewayFault | undefined;
  /** Bodies larger than this get 413 (0: no limit). */
  maxBody = 0;
  private server?: Server;
  port = 0;

  constructor(readonly upstream: string) {}

  /** The gateway's base URL; request paths are kept as they are when forwarded. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const seen: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) seen[k] = String(v);
        const rec: GatewayRequest = { at: Date.now(), bytes: body.length, status: 0, headers: seen };
        this.requests.push(rec);
        const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
          rec.status = status;
          res.writeHead(status, headers);
          res.end(text);
        };
        if (this.fault) return answer(this.fault.status, this.fault.body ?? "", this.fault.headers);
        if (this.maxBody > 0 && body.length > this.maxBody) return answer(413, "request body too large");
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined && !["host", "connection", "content-length", "transfer-encoding"].includes(k)) headers[k] = String(v);
        request(`${this.upstream}${req.url ?? "/"}`, { method: (req.method ?? "POST") as "POST", headers, body })
          .then(async (up) => answer(up.statusCode, await up.body.text()))
          .catch((err: unknown) => answer(502, `upstream: ${(err as Error).message}`));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

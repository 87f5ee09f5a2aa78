/**
 * Every HTTP output reads at most a few KiB of a receiver's answer and sends URL userinfo as
 * Basic auth: checked against a real server that answers 500 with a 400 MiB body written
 * only as fast as the client reads it, so what it wrote is what the output took.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { ParseContext } from "../../src/config/schema.js";
import type { OutputDefinition, SendResult } from "../../src/delivery/output.js";
import { alertmanagerOutput } from "../../outputs/alertmanager/index.js";
import { lokiOutput } from "../../outputs/loki/index.js";
import { peregrineOutput } from "../../outputs/peregrine/index.js";
import { s3Output } from "../../outputs/s3/index.js";
import { slackOutput } from "../../outputs/slack/index.js";
import { webhookOutput } from "../../outputs/webhook/index.js";

const MiB = 1024 * 1024;
const BODY = 400 * MiB;
const ctx = { name: "t", logger: pino({ level: "silent" }), dataDir: tmpdir() };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const alert: Alert = {
  uuid: "00000000-0000-4000-8000-000000000001",
  time: "2024-05-01T10:00:00.123456789Z",
  priority: "Warning",
  rule: "Write below etc",
  output: "out",
  output_fields: { "fd.name": "/etc/x" },
  source: "syscall",
  tags: ["fs"],
  hostname: "node-1",
};

interface HugeServer {
  port: number;
  written(): number;
  authorizations: (string | undefined)[];
  paths: string[];
}

async function hugeBodyServer(): Promise<HugeServer> {
  const state: HugeServer = { port: 0, written: () => written, authorizations: [], paths: [] };
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, "e");
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      state.authorizations.push(req.headers.authorization);
      state.paths.push(req.url ?? "");
      res.writeHead(500, { "content-type": "text/plain", "content-length": String(BODY) });
      let sent = 0;
      const pump = (): void => {
        while (sent < BODY && !res.destroyed) {
          sent += chunk.length;
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return state;
}

function create(def: OutputDefinition, config: Record<string, unknown>) {
  const c = new ParseContext();
  const parsed = def.schema.parse(config, c, "x");
  expect(c.issues.filter((i) => i.severity === "error")).toEqual([]);
  const out = def.create(parsed as never, ctx);
  cleanups.push(() => out.close());
  return out;
}

const cases: { name: string; def: OutputDefinition; config: (url: string) => Record<string, unknown>; path: string }[] = [
  { name: "webhook", def: webhookOutput as OutputDefinition, config: (url) => ({ url: `${url}hook` }), path: "/hook" },
  { name: "slack", def: slackOutput as OutputDefinition, config: (url) => ({ webhook_url: `${url}services/T/B/X` }), path: "/services/T/B/X" },
  { name: "loki", def: lokiOutput as OutputDefinition, config: (url) => ({ url }), path: "/loki/api/v1/push" },
  { name: "alertmanager", def: alertmanagerOutput as OutputDefinition, config: (url) => ({ url }), path: "/api/v2/alerts" },
  { name: "peregrine", def: peregrineOutput as OutputDefinition, config: (url) => ({ url }), path: "/" },
];

describe("HTTP outputs against a receiver answering 500 with a 400 MiB body, at a URL with userinfo", () => {
  for (const c of cases)
    it(`${c.name}: takes a few KiB of the body, retries, and sends the userinfo as Basic auth`, async () => {
      const server = await hugeBodyServer();
      const out = create(c.def, c.config(`http://peregrine:pa%3Ass@127.0.0.1:${server.port}/`));
      const result: SendResult = await out.send([alert], AbortSignal.timeout(60_000));
      expect(result.kind).toBe("retry");
      expect((result as { reason: string }).reason.length).toBeLessThan(5000);
      expect((result as { reason: string }).reason).not.toContain("pa:ss");
      // Socket buffers hold a few MiB at most; the body is 400.
      expect(server.written()).toBeLessThan(32 * MiB);
      expect(server.paths).toEqual([c.path]);
      expect(server.authorizations).toEqual([`Basic ${Buffer.from("peregrine:pa:ss").toString("base64")}`]);
    }, 120_000);
});

describe("the S3 output against a store answering 500 with a 400 MiB body", () => {
  it("hands the SDK a few KiB of the error body and retries", async () => {
    const server = await hugeBodyServer();
    const out = create(s3Output as OutputDefinition, {
      bucket: "alerts",
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${server.port}`,
      force_path_style: true,
      access_key_id: "test",
      secret_access_key: "testtesttest",
    });
    const result = await out.send([alert], AbortSignal.timeout(60_000));
    expect(result).toMatchObject({ kind: "retry", status: 500 });
    expect((result as { reason: string }).reason.length).toBeLessThan(5000);
    expect(server.written()).toBeLessThan(32 * MiB);
    expect(server.paths.length).toBe(1);
  }, 120_000);
});

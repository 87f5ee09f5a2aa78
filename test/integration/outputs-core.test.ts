import { createHmac } from "node:crypto";
import { readFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { fileOutput } from "../../outputs/file/index.js";
import { webhookOutput } from "../../outputs/webhook/index.js";
import { certs, ensureCerts } from "../harness/certs.js";
import { Receiver } from "../harness/receiver.js";
import { makeAlert, startRouter, waitUntil } from "../harness/router-process.js";
import { ParseContext } from "../../src/config/schema.js";

const ctx = { name: "t", logger: pino({ level: "silent" }), dataDir: tmpdir() };
const signal = () => AbortSignal.timeout(10_000);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function alert(i: number, extra: Partial<Alert> = {}): Alert {
  return { uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, time: "2024-05-01T10:00:00.123456789Z", priority: "Warning", rule: "Write below etc", output: `out ${i} "quoted"`, output_fields: { "fd.name": "/etc/x", n: i }, source: "syscall", tags: ["fs"], hostname: "node-1", ...extra };
}

function parse<S extends { parse: (v: unknown, c: ParseContext, p: string) => unknown }>(schema: S, value: unknown): ReturnType<S["parse"]> {
  const c = new ParseContext();
  const v = schema.parse(value, c, "x");
  expect(c.issues).toEqual([]);
  return v as ReturnType<S["parse"]>;
}

describe("webhook output", () => {
  it("sends one alert as JSON, a batch as an array, with method, headers and an HMAC of the body", async () => {
    const r = await new Receiver().start();
    cleanups.push(() => r.stop());
    const out = webhookOutput.create(
      parse(webhookOutput.schema, { url: r.url, method: "PUT", headers: { "x-team": "sec" }, hmac: { secret: "k3y" } }),
      ctx,
    );
    expect(await out.send([alert(1)], signal())).toEqual({ kind: "ok" });
    expect(await out.send([alert(2), alert(3)], signal())).toEqual({ kind: "ok" });
    const [one, many] = r.requests;
    expect(one!.method).toBe("PUT");
    expect(one!.headers["x-team"]).toBe("sec");
    expect(JSON.parse(one!.body)).toEqual(alert(1));
    expect(JSON.parse(many!.body)).toEqual([alert(2), alert(3)]);
    const expected = `sha256=${createHmac("sha256", "k3y").update(many!.body).digest("hex")}`;
    expect(many!.headers["x-peregrine-signature"]).toBe(expected);
    await out.close();
  });

  it("with batching configured, a send of one alert is still an array: one body shape per config", async () => {
    const r = await new Receiver().start();
    cleanups.push(() => r.stop());
    const batched = webhookOutput.create(parse(webhookOutput.schema, { url: r.url }), { ...ctx, batchMaxEvents: 100 });
    expect(await batched.send([alert(1)], signal())).toEqual({ kind: "ok" });
    const templated = webhookOutput.create(parse(webhookOutput.schema, { url: r.url, body_template: "{{#each alerts}}{{rule}};{{/each}}" }), {
      ...ctx,
      batchMaxEvents: 100,
    });
    expect(await templated.send([alert(2)], signal())).toEqual({ kind: "ok" });
    const single = webhookOutput.create(parse(webhookOutput.schema, { url: r.url }), { ...ctx, batchMaxEvents: 1 });
    expect(await single.send([alert(3)], signal())).toEqual({ kind: "ok" });
    expect(JSON.parse(r.requests[0]!.body)).toEqual([alert(1)]);
    expect(r.requests[1]!.body).toBe("Write below etc;");
    expect(JSON.parse(r.requests[2]!.body)).toEqual(alert(3));
    await Promise.all([batched.close(), templated.close(), single.close()]);
  });

  it("a Content-Type (any case) in headers replaces the default content type", async () => {
    const r = await new Receiver().start();
    cleanups.push(() => r.stop());
    const out = webhookOutput.create(parse(webhookOutput.schema, { url: r.url, headers: { "Content-Type": "application/vnd.siem+json", "X-Team": "sec" } }), ctx);
    expect(await out.send([alert(1)], signal())).toEqual({ kind: "ok" });
    expect(r.requests[0]!.headers["content-type"]).toBe("application/vnd.siem+json");
    expect(r.requests[0]!.headers["x-team"]).toBe("sec");
    await out.close();
  });

  it("classifies answers: 2xx ok, 408/429/5xx retry with Retry-After, other 4xx reject, network errors retry", async () => {
    const r = await new Receiver().start();
    cleanups.push(() => r.stop());
    const out = webhookOutput.create(parse(webhookOutput.schema, { url: r.url }), ctx);
    const answers = [{ status: 503 }, { status: 429, headers: { "retry-after": "7" } }, { status: 408 }, { status: 404, body: "no such hook" }, { status: 204 }];
    r.behavior = (_q, i) => answers[i]!;
    expect(await out.send([alert(1)], signal())).toMatchObject({ kind: "retry", status: 503 });
    expect(await out.send([alert(1)], signal())).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 7000 });
    expect(await out.send([alert(1)], signal())).toMatchObject({ kind: "retry", status: 408 });
    expect(await out.send([alert(1)], signal())).toMatchObject({ kind: "reject", status: 404, reason: "HTTP 404: no such hook" });
    expect(await out.send([alert(1)], signal())).toEqual({ kind: "ok" });
    await r.stop();
    expect(await out.send([alert(1)], signal())).toMatchObject({ kind: "retry", reason: expect.stringContaining("ECONNREFUSED") });
    await out.close();
  });

  it("renders a body_template with the shared helpers, inline or from templates/", async () => {
    const r = await new Receiver().start();
    cleanups.push(() => r.stop());
    const inline = webhookOutput.create(
      parse(webhookOutput.schema, { url: r.url, body_template: '{"text": "{{upper priority}}: {{output}}", "ns": "{{default (index output_fields "k8s.ns.name") "none"}}"}' }),
      ctx,
    );
    expect(await inline.send([alert(5)], signal())).toEqual({ kind: "ok" });
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ text: 'WARNING: out 5 "quoted"', ns: "none" });
    const file = webhookOutput.create(parse(webhookOutput.schema, { url: r.url, body_template: "templates/webhook-generic.hbs" }), ctx);
    expect(await file.send([alert(6), alert(7)], signal())).toEqual({ kind: "ok" });
    const body = JSON.parse(r.requests[1]!.body) as { id: string; severity: string }[];
    expect(body.map((b) => b.id)).toEqual([alert(6).uuid, alert(7).uuid]);
    expect(body[0]!.severity).toBe("warning");
  });

  it("config check reports a broken body_template with its line and column", () => {
    const c = new ParseContext();
    const value = webhookOutput.schema.parse({ url: "http://127.0.0.1/", body_template: '{"a": "{{#if x}}"}\n{{uper priority}}' }, c, "outputs[0]");
    webhookOutput.validate!(value, c, "outputs[0]");
    expect(c.issues[0]!.path).toBe("outputs[0].body_template");
    expect(c.issues[0]!.message).toMatch(/line \d+/);
  });

  it("speaks TLS with a private CA and presents a client certificate (mTLS)", async () => {
    ensureCerts();
    const seen: { authorized: boolean; cn?: string }[] = [];
    const server = createServer(
      { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.caCert), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const sock = req.socket as import("node:tls").TLSSocket;
        const cn = sock.getPeerCertificate().subject?.CN;
        seen.push({ authorized: sock.authorized, cn: Array.isArray(cn) ? cn[0] : cn });
        req.resume();
        req.on("end", () => res.end("ok"));
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise((r) => server.close(() => r(undefined))));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const mtls = webhookOutput.create(parse(webhookOutput.schema, { url, tls: { ca_file: certs.caCert, cert_file: certs.clientCert, key_file: certs.clientKey } }), ctx);
    expect(await mtls.send([alert(1)], signal())).toEqual({ kind: "ok" });
    expect(seen[0]).toEqual({ authorized: true, cn: "peregrine-client" });
    const noClientCert = webhookOutput.create(parse(webhookOutput.schema, { url, tls: { ca_file: certs.caCert } }), ctx);
    expect((await noClientCert.send([alert(1)], signal())).kind).toBe("retry");
    const untrusted = webhookOutput.create(parse(webhookOutput.schema, { url }), ctx);
    expect((await untrusted.send([alert(1)], signal())).kind).toBe("retry");
    await Promise.all([mtls.close(), noClientCert.close(), untrusted.close()]);
  });
});

describe("file output", () => {
  it("appends NDJSON and rotates by size, keeping max_files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-file-"));
    const path = join(dir, "alerts.ndjson");
    const out = fileOutput.create(parse(fileOutput.schema, { path, max_size: 2048, max_files: 2 }), ctx);
    for (let i = 0; i < 40; i++) expect(await out.send([alert(i)], signal())).toEqual({ kind: "ok" });
    await out.close();
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["alerts.ndjson", "alerts.ndjson.1", "alerts.ndjson.2"]);
    for (const f of files) {
      const size = readFileSync(join(dir, f)).length;
      expect(size).toBeLessThanOrEqual(2048);
      for (const line of readFileSync(join(dir, f), "utf8").trim().split("\n")) expect(JSON.parse(line).rule).toBe("Write below etc");
    }
    const newest = readFileSync(path, "utf8").trim().split("\n");
    expect(JSON.parse(newest.at(-1)!).output_fields.n).toBe(39);
  });

  it("answers retry when it cannot write, instead of losing the batch", async () => {
    // A regular file where a directory should be: mkdir and open fail with ENOTDIR / EEXIST.
    const notADir = join(mkdtempSync(join(tmpdir(), "peregrine-file-")), "plain");
    writeFileSync(notADir, "");
    const out = fileOutput.create(parse(fileOutput.schema, { path: join(notADir, "alerts.ndjson") }), ctx);
    const result = await out.send([alert(1)], signal());
    expect(result).toMatchObject({ kind: "retry", reason: expect.stringContaining("cannot write") });
    expect(existsSync(join(notADir, "alerts.ndjson"))).toBe(false);
  });
});

describe("stdout output through the router", () => {
  it("prints one JSON line per alert, or Falco's text line with format: text", async () => {
    const router = await startRouter({ config: { outputs: [{ name: "json", type: "stdout" }, { name: "text", type: "stdout", format: "text" }] } });
    cleanups.push(() => router.kill());
    const res = await router.post(makeAlert(1, { time: "2024-05-01T10:00:00.123456789Z", output: "hello" }));
    expect(res.status).toBe(200);
    await waitUntil(() => router.stdout.length >= 2, 60_000, "two stdout lines");
    const json = router.stdout.find((l) => l.startsWith("{"))!;
    expect(JSON.parse(json)).toMatchObject({ uuid: (res.json as { uuid: string }).uuid, output: "hello" });
    expect(router.stdout).toContain("2024-05-01T10:00:00.123456789Z: Warning hello");
  });
});

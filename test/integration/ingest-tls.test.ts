/**
 * Ingest safe by default, against the real router process: TLS and mTLS on `listen.tls`,
 * a certificate replaced on disk picked up without a restart, and no listening beyond
 * loopback without a token or a client CA.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { certs, ensureCerts } from "../harness/certs.js";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { Receiver } from "../harness/receiver.js";
import { runCommand } from "../harness/run-command.js";

const REPO = join(import.meta.dirname, "..", "..");

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

beforeAll(() => ensureCerts());

async function start(config: Record<string, unknown>): Promise<RouterProcess> {
  const router = await startRouter({ config: { storage: { fsync: false }, outputs: [], ...config }, waitReady: false });
  cleanups.push(() => router.kill());
  return router;
}

/** The certificate the router presents to a new connection (sha256), or the handshake error. */
function peerCertificate(port: number, options: { ca: Buffer[]; cert?: Buffer; key?: Buffer }): Promise<{ fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ...options }, () => {
      const fingerprint = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve({ fingerprint });
    });
    s.setTimeout(30_000, () => s.destroy(new Error("timed out")));
    s.on("error", (err) => resolve({ error: err.message }));
  });
}

async function waitHttps(router: RouterProcess, dispatcher: Agent): Promise<void> {
  await waitUntil(
    async () => {
      if (router.proc.exitCode !== null) throw new Error(`router exited ${router.proc.exitCode}: ${router.stderr.join("\n")}`);
      try {
        const res = await request(`https://127.0.0.1:${router.port}/ping`, { dispatcher });
        await res.body.dump();
        return res.statusCode === 200;
      } catch {
        return false;
      }
    },
    60_000,
    "the router to answer over HTTPS",
  );
}

describe("listen.tls", () => {
  it("serves HTTPS with listen.tls.cert and key; plain HTTP gets no alert in", async () => {
    const router = await start({ listen: { tls: { cert: certs.serverCert, key: certs.serverKey } } });
    const agent = new Agent({ connect: { ca: readFileSync(certs.caCert), servername: "localhost" } });
    cleanups.push(() => agent.close());
    await waitHttps(router, agent);
    const res = await request(`https://127.0.0.1:${router.port}/`, { method: "POST", dispatcher: agent, headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(1)) });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { uuid: string }).uuid).toMatch(/^[0-9a-f-]{36}$/);
    const plain = await request(`http://127.0.0.1:${router.port}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(2)) }).then(
      (r) => r.statusCode,
      () => 0,
    );
    expect(plain).not.toBe(200);
  }, 120_000);

  it("with listen.tls.client_ca, a client without a certificate from that CA is refused at the handshake", async () => {
    const router = await start({ listen: { tls: { cert: certs.serverCert, key: certs.serverKey, client_ca: certs.caCert } } });
    const ca = readFileSync(certs.caCert);
    const withCert = new Agent({ connect: { ca, servername: "localhost", cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } });
    const without = new Agent({ connect: { ca, servername: "localhost" } });
    cleanups.push(() => withCert.close(), () => without.close());
    await waitHttps(router, withCert);
    const ok = await request(`https://127.0.0.1:${router.port}/`, { method: "POST", dispatcher: withCert, headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(1)) });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    const refused = await request(`https://127.0.0.1:${router.port}/`, { method: "POST", dispatcher: without, headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(2)) }).then(
      (r) => `status ${r.statusCode}`,
      (err: Error) => `error ${err.message}`,
    );
    expect(refused).toMatch(/^error /);
    // A certificate from another CA is refused too.
    const dir = mkdtempSync(join(tmpdir(), "peregrine-othercert-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "2", "-subj", "/CN=stranger"], { stdio: "ignore" });
    const stranger = await peerCertificate(router.port, { ca: [ca], cert: readFileSync(join(dir, "c.pem")), key: readFileSync(join(dir, "k.pem")) }).then(async (first) => {
      // TLS 1.3 reports the refusal after the handshake: read until the server closes.
      if (first.error) return first;
      return new Promise<{ error?: string }>((resolve) => {
        const s = tlsConnect({ host: "127.0.0.1", port: router.port, servername: "localhost", ca: [ca], cert: readFileSync(join(dir, "c.pem")), key: readFileSync(join(dir, "k.pem")) }, () => {
          s.write("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        });
        let data = "";
        s.on("data", (d: Buffer) => (data += d.toString()));
        s.on("error", (err) => resolve({ error: err.message }));
        s.on("close", () => resolve(data.startsWith("HTTP/1.1 200") ? {} : { error: "closed" }));
      });
    });
    expect(stranger.error).toBeDefined();
  }, 120_000);

  it("a certificate replaced on disk is served to new connections without a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-tlsreload-"));
    const cert = join(dir, "server.pem");
    const key = join(dir, "server-key.pem");
    copyFileSync(certs.serverCert, cert);
    copyFileSync(certs.serverKey, key);
    const router = await start({ listen: { tls: { cert, key } } });
    const ca = readFileSync(certs.caCert);
    const agent = new Agent({ connect: { ca, servername: "localhost" } });
    cleanups.push(() => agent.close());
    await waitHttps(router, agent);
    const before = await peerCertificate(router.port, { ca: [ca] });
    expect(before.fingerprint).toBeDefined();
    // The new pair, self-signed for localhost, written beside and renamed in (as a secret
    // mount or certbot swaps files): key first, then the certificate.
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "new-key.pem"), "-out", join(dir, "new.pem"), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      { stdio: "ignore" },
    );
    const fresh = readFileSync(join(dir, "new.pem"));
    renameSync(join(dir, "new-key.pem"), key);
    renameSync(join(dir, "new.pem"), cert);
    let after: { fingerprint?: string; error?: string } = {};
    await waitUntil(
      async () => {
        after = await peerCertificate(router.port, { ca: [ca, fresh] });
        return after.fingerprint !== undefined && after.fingerprint !== before.fingerprint;
      },
      60_000,
      `the router to present the new certificate (last: ${JSON.stringify(after)})`,
    );
    expect(router.proc.exitCode).toBeNull();
    expect(router.stdout.concat(router.stderr).some((l) => l.includes("certificate files changed"))).toBe(true);
  }, 120_000);

  it("an unreadable certificate fails the start with LISTEN_TLS_INVALID naming the file", async () => {
    const router = await start({ listen: { tls: { cert: "/nonexistent/cert.pem", key: certs.serverKey } } });
    await waitUntil(() => router.proc.exitCode !== null, 60_000, "the router to exit");
    expect(router.proc.exitCode).toBe(1);
    const err = router.stderr.join("\n");
    expect(err).toContain("LISTEN_TLS_INVALID");
    expect(err).toContain("/nonexistent/cert.pem");
  }, 120_000);
});

describe("listening beyond loopback", () => {
  it("refuses 0.0.0.0 with no token and no client CA (exit 1, CONFIG_INSECURE_LISTEN); starts with a token or allow_insecure", async () => {
    const refused = await start({ listen: { address: "0.0.0.0" } });
    await waitUntil(() => refused.proc.exitCode !== null, 60_000, "the router to exit");
    expect(refused.proc.exitCode).toBe(1);
    expect(refused.stderr.join("\n")).toMatch(/listen\.address: .*\[CONFIG_INSECURE_LISTEN\]/);

    const withToken = await start({ listen: { address: "0.0.0.0" }, ingest: { auth: { tokens: ["t0ken"] } } });
    await waitUntil(async () => (await withToken.get("/ping").catch(() => ({ status: 0 }))).status === 200, 60_000, "the router with a token to listen");
    const res = await request(`${withToken.url}/`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer t0ken" }, body: JSON.stringify(makeAlert(1)) });
    expect(res.statusCode).toBe(200);
    await res.body.dump();

    const allowed = await start({ listen: { address: "0.0.0.0", allow_insecure: true } });
    await waitUntil(async () => (await allowed.get("/ping").catch(() => ({ status: 0 }))).status === 200, 60_000, "the router with allow_insecure to listen");
  }, 180_000);
});

describe("peregrine dlq replay against a router serving HTTPS", () => {
  it("replays through the running router, trusting exactly the certificate its config names", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    receiver.behavior = () => ({ status: 400, body: '{"error":"not yet"}' });
    const router = await start({
      listen: { tls: { cert: certs.serverCert, key: certs.serverKey } },
      outputs: [{ name: "hook", type: "webhook", url: receiver.url, retry: { initial_ms: 100, max_ms: 1000 } }],
    });
    const dispatcher = new Agent({ connect: { ca: readFileSync(certs.caCert), servername: "localhost" } });
    cleanups.push(() => dispatcher.close());
    await waitHttps(router, dispatcher);
    const posted = await request(`https://127.0.0.1:${router.port}/`, { method: "POST", dispatcher, headers: { "content-type": "application/json" }, body: JSON.stringify(makeAlert(1)) });
    const { uuid } = (await posted.body.json()) as { uuid: string };
    expect(posted.statusCode).toBe(200);
    await waitUntil(
      async () => {
        const res = await request(`https://127.0.0.1:${router.port}/api/dead-letters`, { dispatcher });
        return JSON.stringify(await res.body.json()).includes(uuid);
      },
      60_000,
      "the dead letter",
    );

    receiver.behavior = () => ({ status: 200 });
    const replay = await runCommand(process.execPath, ["--import", "tsx", "src/cli.ts", "dlq", "replay", "--output", "hook", "-c", router.configFile], { cwd: REPO });
    expect(replay.stderr).toBe("");
    expect(replay.stdout).toContain("replayed 1 dead letter(s) through the running router");
    await waitUntil(() => receiver.alerts().some((a) => a.uuid === uuid), 60_000, "the replayed alert at the receiver");
  });

  it("with listen.tls.client_ca, says it holds no client certificate and replays nothing", async () => {
    const router = await start({ listen: { tls: { cert: certs.serverCert, key: certs.serverKey, client_ca: certs.caCert } } });
    const replay = await runCommand(process.execPath, ["--import", "tsx", "src/cli.ts", "dlq", "replay", "-c", router.configFile], { cwd: REPO });
    expect(replay.status).not.toBe(0);
    expect(replay.stderr).toMatch(/refused the replay: the router asks every client for a certificate \(listen\.tls\.client_ca\)/);
    expect(replay.stderr).not.toMatch(/\n\s+at /);
  });
});

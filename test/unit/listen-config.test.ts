import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue, loadConfig } from "../../src/config/index.js";
import { isLoopback } from "../../src/config/listen.js";

function write(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "peregrine-listen-")), "peregrine.yaml");
  writeFileSync(file, yaml);
  return file;
}

describe("listen: safe by default", () => {
  it("listens on loopback unless told otherwise", () => {
    const r = loadConfig(undefined, {});
    expect(r.config?.listen.address).toBe("127.0.0.1");
    expect(r.config?.listen.allow_insecure).toBe(false);
    expect(r.config?.ingest.auth.query_token).toBe(false);
  });

  it("refuses an address beyond loopback with no token and no client CA: CONFIG_INSECURE_LISTEN on listen.address", () => {
    for (const address of ["0.0.0.0", "::", "10.1.2.3", "peregrine.example.com"]) {
      const r = loadConfig(write(`listen: { address: "${address}" }\n`), {});
      expect(r.config, address).toBeUndefined();
      const issue = r.issues.find((i) => i.code === "CONFIG_INSECURE_LISTEN");
      expect(issue?.path).toBe("listen.address");
      expect(formatIssue(issue!, "f.yaml")).toMatch(/listen\.address: .*allow_insecure.*\[CONFIG_INSECURE_LISTEN\]$/);
    }
    // The same through the environment, as a container would set it.
    const env = loadConfig(undefined, { PEREGRINE_LISTEN_ADDRESS: "0.0.0.0" });
    expect(env.issues.map((i) => i.code)).toContain("CONFIG_INSECURE_LISTEN");
  });

  it("takes an exposed address with a token, a client CA, or listen.allow_insecure", () => {
    expect(loadConfig(write(`listen: { address: 0.0.0.0 }\ningest: { auth: { tokens: [t0k] } }\n`), {}).config?.listen.address).toBe("0.0.0.0");
    expect(loadConfig(write(`listen: { address: 0.0.0.0, allow_insecure: true }\n`), {}).config).toBeDefined();
    expect(loadConfig(undefined, { PEREGRINE_LISTEN_ADDRESS: "0.0.0.0", PEREGRINE_LISTEN_ALLOW_INSECURE: "true" }).config).toBeDefined();
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) expect(loadConfig(write(`listen: { address: "${a}" }\n`), {}).config, a).toBeDefined();
  });

  it("knows loopback addresses", () => {
    expect(["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "128.0.0.1"].some(isLoopback)).toBe(false);
  });

  it("listen.tls: cert and key together, client_ca needs them, unreadable files are LISTEN_TLS_INVALID", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-tls-"));
    const onlyCert = loadConfig(write(`listen: { tls: { cert: ${dir}/c.pem } }\n`), {});
    expect(onlyCert.issues.map((i) => i.path)).toContain("listen.tls.key");
    const onlyCa = loadConfig(write(`listen: { tls: { client_ca: ${dir}/ca.pem } }\n`), {});
    expect(onlyCa.issues.map((i) => i.path)).toContain("listen.tls.client_ca");
    const missing = loadConfig(write(`listen: { tls: { cert: ${dir}/c.pem, key: ${dir}/k.pem } }\n`), {});
    expect(missing.config).toBeUndefined();
    expect(missing.issues[0]).toMatchObject({ path: "listen.tls.cert", code: "LISTEN_TLS_INVALID" });
    expect(missing.issues[0]!.message).toContain(`${dir}/c.pem`);
    writeFileSync(join(dir, "c.pem"), "not a certificate\n");
    writeFileSync(join(dir, "k.pem"), "not a key\n");
    const garbage = loadConfig(write(`listen: { tls: { cert: ${dir}/c.pem, key: ${dir}/k.pem } }\n`), {});
    expect(garbage.issues[0]).toMatchObject({ path: "listen.tls", code: "LISTEN_TLS_INVALID" });
  });

  it("ingest limits have sane defaults", () => {
    const c = loadConfig(undefined, {}).config!;
    expect(c.ingest.max_depth).toBe(64);
    expect(c.ingest.request_timeout).toBe(30_000);
    expect(c.ingest.dedup_window).toBe(3_600_000);
    expect(c.ingest.recent_alerts).toEqual({ max_alerts: 10_000, max_bytes: 64 * 1024 * 1024 });
  });
});

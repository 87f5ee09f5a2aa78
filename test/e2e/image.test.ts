/**
 * The project's image, built here: `npm run image:build`'s code path (the Dockerfile with
 * the harness's local bases when no registry answers) against the docker service, then
 * `docker run` of the router: /healthz answers, an alert is accepted and reaches the stdout
 * output, and the router's process is not root.
 */
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, docker, IMAGE_TAG, type ImageBuild } from "../harness/image.js";
import { services } from "../harness/services.js";

const isRoot = process.getuid?.() === 0;
const NAME = `peregrine-image-test-${process.pid}`;
let port = 0;
let build: ImageBuild | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!isRoot)("the image (root: the docker service runs dockerd)", () => {
  beforeAll(async () => {
    await services.start("docker");
    // a first build installs the toolchains and compiles the sensor and the app
    build = await buildImage(IMAGE_TAG);
    port = await freePort();
    // host network (the harness's dockerd has no bridge), so loopback only
    const r = await docker(["run", "-d", "--name", NAME, "--network", "host", "-e", "PEREGRINE_LISTEN_ADDRESS=127.0.0.1", IMAGE_TAG, "router", "-c", "/etc/peregrine/peregrine.yaml", "-p", String(port)]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 60 * 60_000);

  afterAll(async () => {
    await docker(["rm", "-f", NAME]);
  });

  it("answers /healthz, accepts an alert and writes it to its output, as a non-root user", async () => {
    expect(build?.tag).toBe(IMAGE_TAG);
    const health = await until("/healthz", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return res.status === 200 ? await res.json() : undefined;
    });
    expect(health).toMatchObject({ status: "ok" });

    const marker = `image-test-${Date.now()}`;
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ rule: "Image test", priority: "Notice", output: `alert ${marker}`, output_fields: { "proc.name": "sh" } }),
    });
    expect(res.status).toBe(200);
    const logs = await until("the alert in the container's stdout", async () => {
      const r = await docker(["logs", NAME]);
      return r.stdout.includes(marker) ? r.stdout : undefined;
    });
    expect(logs).toContain(marker);

    // the node process (pid 1 is tini) runs as the image's peregrine user
    const ids = await docker(["exec", NAME, "sh", "-c", 'for s in /proc/[0-9]*/status; do grep -q "^Name:[[:space:]]*node" "$s" && grep "^Uid:" "$s"; done']);
    expect(ids.status).toBe(0);
    expect(ids.stdout.trim()).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/);
    // and the journal it writes lives on the volume, owned by that user
    const journal = await docker(["exec", NAME, "stat", "-c", "%u", "/var/lib/peregrine"]);
    expect(journal.stdout.trim()).toBe("10001");
  });
});

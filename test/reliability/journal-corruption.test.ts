/**
 * Corruption noticed (issue 23, finding 6): a zero-length journal used to start empty with
 * health "ok" (5,000 acknowledged alerts gone silently), a damaged page left alerts stuck
 * with nothing logged, and a WAL deleted while running lost what it held with no warning.
 * Now: a marker beside the database tells an empty new journal from a lost one
 * (STORAGE_JOURNAL_LOST, exit 3, unless --start-fresh), quick_check runs at start
 * (STORAGE_CORRUPT, exit 3), and a deleted WAL is noticed, saved from the open file, logged
 * and shown in /healthz.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { countingBehavior, missing, startRouterIn, webhookOutput } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "../..");
const ALERTS = 5000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

/** A router on a down output holding ALERTS acknowledged alerts, then stopped cleanly. */
async function journalWithBacklog(): Promise<{ first: RouterProcess; acked: string[]; port: number }> {
  const port = await freePort();
  const first = await startRouterIn(cleanups, { config: { outputs: [webhookOutput(`http://127.0.0.1:${port}/`)] } });
  const acked: string[] = [];
  for (let i = 0; i < ALERTS; i += 250) {
    const alerts = Array.from({ length: 250 }, (_, k) => makeAlert(i + k, { uuid: randomUUID() }));
    expect((await first.post(alerts)).status).toBe(200);
    acked.push(...alerts.map((a) => a.uuid as string));
  }
  expect(await first.stop("SIGTERM")).toBe(0);
  return { first, acked, port };
}

/** Starts a router on `dataDir` expected to refuse; returns its exit code and log. */
async function refusedStart(dataDir: string, outputs: Record<string, unknown>[]): Promise<{ code: number | null; log: string }> {
  const rp = await startRouter({ dataDir, waitReady: false, config: { outputs } });
  cleanups.push(async () => {
    await rp.kill();
    rmSync(dirname(rp.configFile), { recursive: true, force: true });
  });
  await waitUntil(() => rp.proc.exitCode !== null, 60_000, "the router to exit");
  return { code: rp.proc.exitCode, log: rp.stderr.join("\n") };
}

describe("reliability: a damaged or lost journal is refused loudly", () => {
  it(`a zero-length journal where ${ALERTS} acknowledged alerts were kept: exit 3 STORAGE_JOURNAL_LOST, unless --start-fresh`, async () => {
    const { first, port } = await journalWithBacklog();
    const db = join(first.dataDir, "journal.db");
    for (const suffix of ["-wal", "-shm"]) rmSync(db + suffix, { force: true });
    truncateSync(db, 0);

    const outputs = [webhookOutput(`http://127.0.0.1:${port}/`)];
    const refused = await refusedStart(first.dataDir, outputs);
    expect(refused.code).toBe(3);
    expect(refused.log).toContain("STORAGE_JOURNAL_LOST");
    expect(refused.log).toContain("--start-fresh");
    console.log(`journal-corruption: zero-length journal refused: ${refused.log.split("\n").find((l) => l.includes("STORAGE_JOURNAL_LOST"))}`);
    expect(statSync(db).size).toBe(0); // nothing was changed

    // Told to start fresh, it does, and says so.
    const fresh = spawn(process.execPath, ["--import", "tsx", join(REPO, "src/cli.ts"), "router", "-c", first.configFile, "--start-fresh"], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    fresh.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    cleanups.push(async () => {
      if (fresh.exitCode === null) {
        fresh.kill("SIGKILL");
        await new Promise((r) => fresh.once("exit", r));
      }
    });
    await waitUntil(() => err.includes("listening") || fresh.exitCode !== null, 60_000, "the router to start with --start-fresh");
    expect(fresh.exitCode).toBeNull();
    expect(err).toContain("starting an empty one as --start-fresh asks");
  }, 180_000);

  it("a damaged page: quick_check at start refuses with exit 3 STORAGE_CORRUPT and changes nothing", async () => {
    const { first, port } = await journalWithBacklog();
    const db = join(first.dataDir, "journal.db");
    expect(existsSync(`${db}-wal`)).toBe(false); // a clean stop checkpointed everything
    const size = statSync(db).size;
    const pages = size / 4096;
    expect(pages).toBeGreaterThan(10);
    // Garbage over a page in the middle of the alerts' b-tree.
    const fd = openSync(db, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(pages / 2) * 4096);
    closeSync(fd);
    const before = readFileSync(db);

    const refused = await refusedStart(first.dataDir, [webhookOutput(`http://127.0.0.1:${port}/`)]);
    expect(refused.code).toBe(3);
    expect(refused.log).toContain("STORAGE_CORRUPT");
    console.log(`journal-corruption: damaged page refused: ${refused.log.split("\n").find((l) => l.includes("STORAGE_CORRUPT"))?.slice(0, 300)}`);
    expect(readFileSync(db).equals(before)).toBe(true);
  }, 180_000);

  it("a WAL deleted while running: logged, shown in /healthz, and what it held still arrives after a SIGKILL", async () => {
    const port = await freePort();
    const receiver = new Receiver();
    receiver.port = port; // down
    const { delivered } = countingBehavior(receiver);
    cleanups.push(() => receiver.stop());
    const outputs = [webhookOutput(`http://127.0.0.1:${port}/`)];
    const router = await startRouterIn(cleanups, { config: { outputs } });
    const acked: string[] = [];
    for (let i = 0; i < 2000; i += 250) {
      const alerts = Array.from({ length: 250 }, (_, k) => makeAlert(i + k, { uuid: randomUUID() }));
      expect((await router.post(alerts)).status).toBe(200);
      acked.push(...alerts.map((a) => a.uuid as string));
    }
    const wal = join(router.dataDir, "journal.db-wal");
    // Under the default quota the WAL holds these commits until its 4 MiB checkpoint.
    expect(statSync(wal).size).toBeGreaterThan(100_000);
    unlinkSync(wal);

    type Health = { status: string; problems: { code: string; message: string }[] };
    let health: Health | undefined;
    await waitUntil(
      async () => {
        health = (await router.get("/healthz")).json as Health;
        return health.problems.some((p) => p.code === "STORAGE_WAL_LOST");
      },
      60_000,
      "/healthz to show STORAGE_WAL_LOST",
    );
    expect(health!.status).toBe("degraded");
    // Logged as an error (the log line may reach us just after the health answer).
    await waitUntil(() => router.stderr.some((l) => l.includes("STORAGE_WAL_LOST") && l.includes('"level":50')), 30_000, "the STORAGE_WAL_LOST error line");
    console.log(`journal-corruption: ${health!.problems.find((p) => p.code === "STORAGE_WAL_LOST")!.message}`);

    // The worst case: killed right after. What the deleted WAL held must survive.
    await router.kill();
    const again = await startRouterIn(cleanups, { dataDir: router.dataDir, config: { outputs } });
    expect((await again.get("/healthz")).status).toBe(200);
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, "every acknowledged alert").catch((err: Error) => {
      throw new Error(`${err.message}: ${missing(acked, delivered).length} of ${acked.length} missing`);
    });
  }, 180_000);
});

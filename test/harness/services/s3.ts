/**
 * An S3-compatible server: moto's server (Apache-2.0) from PyPI, in a virtualenv cached under
 * the harness directory. It implements conditional writes (`If-None-Match: *` answers 412 when
 * the key exists), which the S3 output relies on. In-memory: a restart starts empty.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { S3 } from "../endpoints.js";
import { cachePath } from "../paths.js";
import { commandExists, HarnessError, httpOk, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

export const MOTO_VERSION = "5.2.5";
const HOME = cachePath("s3");
const VENV = join(HOME, "venv");
const SERVER = join(VENV, "bin", "moto_server");

async function provision(): Promise<void> {
  const stamp = join(VENV, `.moto-${MOTO_VERSION}`);
  if (existsSync(stamp) && existsSync(SERVER)) return;
  if (!commandExists("python3")) throw new HarnessError("s3 needs python3 (3.9 or newer) with the venv module");
  note(`s3: installing moto ${MOTO_VERSION} in a virtualenv (first run)`);
  if (!existsSync(join(VENV, "bin", "pip"))) run("python3", ["-m", "venv", VENV]);
  run(join(VENV, "bin", "pip"), ["install", "-q", "--disable-pip-version-check", `moto[server]==${MOTO_VERSION}`]);
  run("touch", [stamp]);
}

export const s3: ServiceDef = {
  name: "s3",
  summary: `S3-compatible server (moto ${MOTO_VERSION}) on 127.0.0.1:9000`,
  provision,
  spawn() {
    startDaemon({ name: "s3", command: SERVER, args: ["-H", "127.0.0.1", "-p", "9000"], marker: SERVER });
  },
  ready: () => httpOk(`${S3.endpoint}/moto-api/`),
  readyTimeoutMs: 30_000,
  ports: [9000],
};

#!/usr/bin/env node
// Builds the eBPF sensor (sensor/build/peregrine-sensor) with the project's Makefile,
// installing the Debian build tools first when they are missing. Incremental: a no-op
// when nothing changed. Usage: node scripts/build-sensor.mjs  (also importable).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SENSOR_BINARY = join(root, "sensor", "build", "peregrine-sensor");
export const WIRE_DUMP_BINARY = join(root, "sensor", "build", "wire-dump");

export function buildSensor({ quiet = true } = {}) {
  const stdio = quiet ? ["ignore", "ignore", "inherit"] : "inherit";
  // Test files in parallel workers build at once on a fresh clone: one build at a time
  // (flock, from util-linux), the later ones find it done.
  mkdirSync(join(root, "sensor", "build"), { recursive: true });
  const lock = join(root, "sensor", "build", ".build.lock");
  execFileSync("flock", [lock, "sh", join(root, "scripts", "install-sensor-deps.sh")], { stdio });
  execFileSync("flock", [lock, "make", "-s", "-C", join(root, "sensor"), "all", "testprogs"], { stdio });
  if (!existsSync(SENSOR_BINARY)) throw new Error(`sensor build produced no ${SENSOR_BINARY}`);
  return SENSOR_BINARY;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildSensor({ quiet: false });
  } catch (err) {
    console.error(`sensor build failed: ${err.message.split("\n")[0]}`);
    process.exit(2);
  }
}

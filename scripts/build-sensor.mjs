#!/usr/bin/env node
// Builds the eBPF sensor (sensor/build/peregrine-sensor) with the project's Makefile,
// installing the Debian build tools first when they are missing. Incremental: a no-op
// when nothing changed. Usage: node scripts/build-sensor.mjs  (also importable).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SENSOR_BINARY = join(root, "sensor", "build", "peregrine-sensor");
export const WIRE_DUMP_BINARY = join(root, "sensor", "build", "wire-dump");

export function buildSensor({ quiet = true } = {}) {
  const stdio = quiet ? ["ignore", "ignore", "inherit"] : "inherit";
  execFileSync("sh", [join(root, "scripts", "install-sensor-deps.sh")], { stdio });
  execFileSync("make", ["-s", "-C", join(root, "sensor"), "all", "testprogs"], { stdio });
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

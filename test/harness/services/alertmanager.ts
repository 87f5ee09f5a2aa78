/**
 * Prometheus Alertmanager from Debian's package (installed with apt-get when missing), on
 * 127.0.0.1:9093 with a config kept in the harness and clustering off.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ALERTMANAGER } from "../endpoints.js";
import { cachePath } from "../paths.js";
import { commandExists, HarnessError, httpOk, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

const BINARY = "prometheus-alertmanager";
const HOME = cachePath("alertmanager");
const CONFIG = join(HOME, "alertmanager.yml");

const CONFIG_TEXT = `# Written by the test harness (test/harness/services/alertmanager.ts).
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
`;

async function provision(): Promise<void> {
  if (!commandExists(BINARY)) {
    if (!commandExists("apt-get")) throw new HarnessError(`alertmanager: ${BINARY} is missing and apt-get is not available`);
    note(`alertmanager: installing Debian's ${BINARY} package`);
    // Debian's package has no service manager to talk to here; the harness runs it itself.
    run("apt-get", ["-o", "DPkg::Lock::Timeout=600", "update", "-q"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    run("apt-get", ["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends", BINARY], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  }
  mkdirSync(join(HOME, "data"), { recursive: true });
  writeFileSync(CONFIG, CONFIG_TEXT);
}

export const alertmanager: ServiceDef = {
  name: "alertmanager",
  summary: "Prometheus Alertmanager on 127.0.0.1:9093",
  provision,
  spawn() {
    startDaemon({
      name: "alertmanager",
      command: BINARY,
      args: [
        `--config.file=${CONFIG}`,
        `--storage.path=${join(HOME, "data")}`,
        "--web.listen-address=127.0.0.1:9093",
        "--cluster.listen-address=",
      ],
      marker: CONFIG,
    });
  },
  ready: () => httpOk(`${ALERTMANAGER.url}/-/ready`),
  readyTimeoutMs: 30_000,
  ports: [9093],
};

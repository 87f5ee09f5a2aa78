/**
 * `peregrine detect --router URL [-c FILE] [--storage DIR] [--token T] [--ca-file F]
 * [--cert-file F --key-file F]`: the detector alone, as a node agent. Its alerts are journaled
 * on the node and delivered by one lane whose output (type `peregrine`) posts them to the
 * router, so the node has every guarantee of the router's own lanes: retries with jitter and
 * Retry-After, the circuit breaker, dead letters (`peregrine dlq --storage DIR`), and nothing
 * lost while the router, or this process, restarts.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseOutput, type Config } from "../config/index.js";
import { ParseContext } from "../config/schema.js";
import { readDetectorConfig, SensorError, checkSensorPrerequisites, type SyscallDetector } from "../detector/sources/syscall/index.js";
import { errorMessage } from "../errors.js";
import { createLogger } from "../log.js";
import { Router } from "../router.js";
import { EXIT, loadConfigOrReport } from "./common.js";
import { startDetector } from "./detector-extension.js";
import { startK8sAuditSource } from "./k8s-audit-extension.js";
import { readK8sAuditConfig } from "../detector/index.js";

/** The flag that sets each key of the `peregrine` output, for messages. */
const FLAG_OF: Record<string, string> = { url: "--router", token: "--token", "tls.ca_file": "--ca-file", "tls.cert_file": "--cert-file", "tls.key_file": "--key-file" };

export async function detectCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      router: { type: "string" },
      config: { type: "string", short: "c" },
      storage: { type: "string" },
      token: { type: "string" },
      "ca-file": { type: "string" },
      "cert-file": { type: "string" },
      "key-file": { type: "string" },
    },
    strict: true,
  });
  if (!values.router) {
    process.stderr.write("error: --router URL is required (the router that receives the alerts)\n");
    return EXIT.USAGE;
  }
  const config = loadConfigOrReport(values.config);
  if (!config) return EXIT.INVALID;
  const parsed = readDetectorConfig(config.detector);
  if (!parsed.ok) {
    for (const p of parsed.problems) process.stderr.write(`${config.source}: ${p}\n`);
    return EXIT.INVALID;
  }

  // The lane to the router is an output like any other, checked by its type's schema.
  const tls: Record<string, string> = {};
  if (values["ca-file"] !== undefined) tls.ca_file = values["ca-file"];
  if (values["cert-file"] !== undefined) tls.cert_file = values["cert-file"];
  if (values["key-file"] !== undefined) tls.key_file = values["key-file"];
  const ctx = new ParseContext();
  const output = parseOutput(
    {
      name: "router",
      type: "peregrine",
      url: values.router,
      ...(values.token !== undefined ? { token: values.token } : {}),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      // A node keeps what the router has not taken for as long as its storage quota allows.
      retry: { max_age: 0 },
    },
    ctx,
    "",
  );
  const errors = ctx.issues.filter((i) => i.severity === "error");
  if (!output || errors.length > 0) {
    for (const e of errors) {
      const key = e.path.replace(/^\./, "");
      process.stderr.write(`error: ${FLAG_OF[key] ?? key}: ${e.message}\n`);
    }
    return EXIT.USAGE;
  }

  // The k8s_audit endpoint does not need the sensor: a control-plane host that cannot run it
  // (or a config with detector.enabled: false) still serves audit events.
  const k8sParsed = readK8sAuditConfig((config.detector as Record<string, unknown> | undefined)?.k8s_audit);
  if (!k8sParsed.ok) {
    for (const p of k8sParsed.problems) process.stderr.write(`${config.source}: ${p}\n`);
    return EXIT.INVALID;
  }
  const auditOnly = k8sParsed.config.enabled;
  // Without the audit endpoint, detect runs the sensor whatever detector.enabled says (as before).
  const wantSyscall = !(parsed.config.enabled === false && auditOnly);
  let syscallSkipped: string | undefined = wantSyscall ? undefined : "detector.enabled is false";
  if (wantSyscall) {
    const pre = checkSensorPrerequisites();
    if (!pre.ok) {
      if (!auditOnly) {
        process.stderr.write(`peregrine detect: ${pre.line}\n`);
        return EXIT.USAGE;
      }
      syscallSkipped = pre.line;
    }
  }
  const logger = createLogger({ level: config.log.level });
  const storage = values.storage ?? join(config.storage.path, "detector");
  const nodeConfig: Config = { ...config, storage: { ...config.storage, path: storage }, outputs: [output] };
  let router: Router;
  try {
    router = new Router(nodeConfig, logger);
  } catch (err) {
    process.stderr.write(`peregrine detect: ${errorMessage(err)}\n`);
    return EXIT.RUNTIME;
  }
  router.start();

  let k8sAudit;
  try {
    // Started first and on its own: the syscall sensor's fate does not decide it.
    k8sAudit = await startK8sAuditSource(nodeConfig, router, logger.child({ component: "k8s_audit" }));
  } catch (err) {
    await router.stop(0);
    process.stderr.write(`peregrine detect: ${errorMessage(err)}\n`);
    return EXIT.INVALID;
  }
  let detector: SyscallDetector | undefined;
  if (syscallSkipped === undefined) {
    try {
      detector = await startDetector(parsed.config, router, logger.child({ component: "detector" }));
    } catch (err) {
      const unavailable = err instanceof SensorError && err.code === "SENSOR_UNAVAILABLE";
      if (!(unavailable && k8sAudit)) {
        await k8sAudit?.close();
        await router.stop(0);
        process.stderr.write(`peregrine detect: ${errorMessage(err)}\n`);
        return unavailable ? EXIT.USAGE : EXIT.INVALID;
      }
      syscallSkipped = errorMessage(err);
    }
  }
  if (syscallSkipped !== undefined) {
    logger.warn({ reason: syscallSkipped }, `peregrine detect: the syscall detector is not running (${syscallSkipped}); serving k8s_audit events only`);
  }
  const pending = () => [...router.lanes.values()].reduce((n, l) => n + l.status().queue_depth, 0);
  logger.info({ router: values.router, storage, pending: pending() }, "peregrine detect: sending alerts to the router (journaled on this node first)");
  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      logger.info(`${signal}: draining to the router for up to ${config.shutdown.drain_ms} ms`);
      await k8sAudit?.close();
      await detector?.stop();
      await router.stop();
      const left = pending();
      logger.info(left > 0 ? `stopped; ${left} undelivered alert(s) stay journaled in ${storage} for the next start` : "stopped; everything delivered");
      resolve(EXIT.OK);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    process.once("SIGINT", () => void shutdown("SIGINT"));
  });
}

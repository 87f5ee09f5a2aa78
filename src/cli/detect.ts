/**
 * `peregrine detect --router URL [-c FILE] [--spool PATH] [--token TOKEN]`: the detector alone,
 * sending its alerts to a router through a durable spool (src/detector/sources/syscall/).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../log.js";
import { errorMessage } from "../errors.js";
import { readDetectorConfig } from "../detector/sources/syscall/config.js";
import { SensorError, startSyscallDetector } from "../detector/sources/syscall/detector.js";
import { AlertForwarder } from "../detector/sources/syscall/forwarder.js";
import { checkSensorPrerequisites } from "../detector/sources/syscall/prerequisites.js";
import { EXIT, loadConfigOrReport } from "./common.js";

export async function detectCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      router: { type: "string" },
      config: { type: "string", short: "c" },
      spool: { type: "string" },
      token: { type: "string" },
    },
    strict: true,
  });
  if (!values.router) {
    process.stderr.write("error: --router URL is required (the router that receives the alerts)\n");
    return EXIT.USAGE;
  }
  try {
    new URL(values.router);
  } catch {
    process.stderr.write(`error: --router must be a URL such as http://127.0.0.1:2801, got "${values.router}"\n`);
    return EXIT.USAGE;
  }
  const config = loadConfigOrReport(values.config);
  if (!config) return EXIT.INVALID;
  const parsed = readDetectorConfig(config.detector);
  if (!parsed.ok) {
    for (const p of parsed.problems) process.stderr.write(`${config.source}: ${p}\n`);
    return EXIT.INVALID;
  }
  const pre = checkSensorPrerequisites();
  if (!pre.ok) {
    process.stderr.write(`peregrine detect: ${pre.line}\n`);
    return EXIT.USAGE;
  }
  const logger = createLogger({ level: config.log.level });
  const forwarder = new AlertForwarder({
    routerUrl: values.router,
    spoolPath: values.spool ?? join(config.storage.path, "detector-spool.db"),
    logger,
    ...(values.token ? { token: values.token } : {}),
  });
  forwarder.start();
  let detector;
  try {
    detector = await startSyscallDetector({
      rulesFiles: parsed.config.rulesFiles,
      selection: parsed.config.selection,
      appendOutput: parsed.config.appendOutput,
      ringBufferBytes: parsed.config.ringBufferBytes,
      kernelFilter: parsed.config.kernelFilter,
      ruleMatching: parsed.config.ruleMatching,
      ...(parsed.config.minimumPriority ? { minimumPriority: parsed.config.minimumPriority } : {}),
      logger,
      onAlert: (a) => forwarder.enqueue(a),
    });
    await detector.ready;
  } catch (err) {
    await forwarder.stop();
    process.stderr.write(`peregrine detect: ${errorMessage(err)}\n`);
    return err instanceof SensorError && err.code === "SENSOR_UNAVAILABLE" ? EXIT.USAGE : EXIT.INVALID;
  }
  logger.info({ router: values.router, spooled: forwarder.stats().spooled }, "peregrine detect: sending alerts to the router");
  const running = detector;
  return new Promise<number>((resolve) => {
    const shutdown = async () => {
      await running.stop();
      await forwarder.stop();
      logger.info(forwarder.stats(), "peregrine detect stopped; undelivered alerts stay spooled");
      resolve(EXIT.OK);
    };
    process.once("SIGTERM", () => void shutdown());
    process.once("SIGINT", () => void shutdown());
  });
}

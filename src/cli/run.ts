import { parseArgs } from "node:util";
import { createLogger, type Logger } from "../log.js";
import { Router } from "../router.js";
import { buildServer } from "../ingest/server.js";
import { PeregrineError, errorMessage } from "../errors.js";
import type { Config } from "../config/index.js";
import { EXIT, loadConfigOrReport } from "./common.js";
import { installEnrichment } from "../enrich/index.js";
import { installRouting } from "../route/index.js";
import type { RunContext, RunExtension } from "../run-context.js";
import { registerDetectorMetrics } from "../detector-metrics.js";
import { installResponse, type InstalledResponse } from "../response/index.js";

const extensions: RunExtension[] = [];

/** Extension failures that end `peregrine run`, by error code, with their exit code. */
const EXTENSION_EXIT: Record<string, number> = { SENSOR_UNAVAILABLE: EXIT.USAGE, DETECTOR_RULES_INVALID: EXIT.INVALID };
export function registerRunExtension(ext: RunExtension): void {
  extensions.push(ext);
}

/** `peregrine run` (router + detector) and `peregrine router` (router alone). */
export async function runCommand(argv: string[], options: { withDetector: boolean }): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, port: { type: "string", short: "p" }, "start-fresh": { type: "boolean" } },
    strict: true,
  });
  const config = loadConfigOrReport(values.config);
  if (!config) return EXIT.INVALID;
  if (values.port !== undefined) {
    const port = Number(values.port);
    // digits only: Number("") is 0 (a random port) and Number("0x50") is 80
    if (!/^\d+$/.test(values.port) || port > 65535) {
      process.stderr.write(`error: --port must be a port number, got "${values.port}"\n`);
      return EXIT.USAGE;
    }
    config.listen.port = port;
  }
  const logger = createLogger({ level: config.log.level });

  let router: Router;
  try {
    router = new Router(config, logger, { startFresh: values["start-fresh"] === true });
  } catch (err) {
    if (err instanceof PeregrineError) logger.fatal({ code: err.code }, err.message);
    else logger.fatal(errorMessage(err));
    return EXIT.RUNTIME;
  }
  await applyRouting(router, config, logger);
  let response: InstalledResponse | undefined;
  try {
    response = await installResponse(router, config, logger);
  } catch (err) {
    if (err instanceof PeregrineError) logger.fatal({ code: err.code }, err.message);
    else logger.fatal(`response: ${errorMessage(err)}`);
    await router.stop(0);
    return err instanceof PeregrineError && err.code === "RESPONSE_RULES_INVALID" ? EXIT.INVALID : EXIT.RUNTIME;
  }
  router.start();
  const app = buildServer(router);
  response?.registerRoutes(app);
  const ctx: RunContext = { router, config, logger, withDetector: options.withDetector };
  for (const ext of extensions) await ext.registerRoutes?.(app, ctx);
  try {
    await app.listen({ host: config.listen.address, port: config.listen.port });
  } catch (err) {
    logger.fatal(`cannot listen on ${config.listen.address}:${config.listen.port}: ${errorMessage(err)}`);
    await router.stop(0);
    return EXIT.RUNTIME;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.listen.port;
  logger.info(
    { port, outputs: config.outputs.map((o) => `${o.name}:${o.type}`), config: config.source, storage: config.storage.path },
    `peregrine router listening on ${config.listen.address}:${port}`,
  );

  const stops: (() => Promise<void>)[] = [];
  for (const ext of extensions) {
    if (!ext.start) continue;
    try {
      const stop = await ext.start(ctx);
      if (stop) stops.push(stop);
    } catch (err) {
      const exit = EXTENSION_EXIT[(err as { code?: string }).code ?? ""];
      if (exit === undefined) {
        logger.error(`${ext.name} did not start: ${errorMessage(err)}`);
        continue;
      }
      // A half that was asked for explicitly (detector.enabled: true) and cannot run is fatal.
      logger.fatal(`${ext.name}: ${errorMessage(err)}`);
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await router.stop(0);
      await app.close().catch(() => {});
      return exit;
    }
  }

  // The embedded detector's own metrics (peregrine_detector_*), read from its stats at scrape time.
  if (ctx.detectorStats) registerDetectorMetrics(router.metrics.registry, async () => (ctx.detectorStats ? await ctx.detectorStats() : undefined));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) {
        logger.warn(`${signal} again: exiting now; undelivered alerts stay in the journal`);
        process.exit(EXIT.RUNTIME);
      }
      stopping = true;
      logger.info(`${signal}: draining outputs for up to ${config.shutdown.drain_ms} ms`);
      for (const stop of stops.reverse()) await stop().catch((err) => logger.warn(errorMessage(err)));
      await router.stop();
      await app.close().catch(() => {});
      const left = [...router.lanes.values()].reduce((n, l) => n + l.status().queue_depth, 0);
      logger.info(left > 0 ? `stopped; ${left} undelivered alert(s) stay journaled for the next start` : "stopped; everything delivered");
      resolve(EXIT.OK);
    };
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
  });
}

/**
 * Installs enrichment and per-output routing (filters, dedup, throttle). At shutdown, open
 * dedup/throttle windows are summarized before the lanes drain, so no count is lost.
 */
async function applyRouting(router: Router, config: Config, logger: Logger): Promise<void> {
  installEnrichment(router, config.enrich, logger);
  const routing = installRouting(router, config, logger);
  registerRunExtension({ name: "noise control", start: async () => () => routing.stop() });
}

/** The dashboard and the detector join the router in one process. */
export async function runCommandWithExtensions(withDetector: boolean): Promise<(argv: string[]) => Promise<number>> {
  const [ui, detector, k8sAudit] = await Promise.all([import("../ui/index.js"), import("./detector-extension.js"), import("./k8s-audit-extension.js")]);
  for (const ext of [ui.extension, detector.extension, k8sAudit.extension]) if (!extensions.includes(ext)) registerRunExtension(ext);
  return (argv) => runCommand(argv, { withDetector });
}

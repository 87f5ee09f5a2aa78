/**
 * Runs the sensor process: spawns it, feeds its stdout to the frame decoder, surfaces its
 * stderr in our log, and restarts it with exponential backoff when it dies. An exit code of
 * 2 means the host cannot run it (the line says why); restarting would not help, so that is
 * reported once through onFatal instead.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";
import { FrameDecoder, WireError, type Frame } from "./wire.js";

export interface SupervisorOptions {
  binary: string;
  args: readonly string[];
  logger: Logger;
  onFrame(f: Frame): void;
  /** The sensor exited with code 2: the host cannot run it. */
  onFatal(line: string): void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

const STABLE_MS = 60_000;

export class SensorSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private lastStderr = "";
  restarts = 0;
  /** Frames that failed to decode (the sensor is restarted on a corrupt stream). */
  wireErrors = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.backoff = opts.initialBackoffMs ?? 500;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const { binary, args, logger } = this.opts;
    const decoder = new FrameDecoder(this.opts.onFrame, { reuse: true });
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.startedAt = Date.now();
    logger.info({ pid: child.pid, args }, "sensor started");

    child.stdout!.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        if (!(err instanceof WireError)) throw err;
        this.wireErrors++;
        logger.error({ err: err.message }, "sensor stream is corrupt; restarting the sensor");
        child.kill("SIGKILL");
      }
    });
    let partial = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "") continue;
        this.lastStderr = line;
        logger.warn({ sensor: true }, line);
      }
    });
    child.on("error", (err) => {
      logger.error({ err: err.message }, "sensor could not be started");
    });
    child.on("close", (code, signal) => {
      if (partial) {
        this.lastStderr = partial;
        logger.warn({ sensor: true }, partial);
      }
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      if (code === 2) {
        this.opts.onFatal(this.lastStderr || "peregrine-sensor: the host cannot run the sensor");
        return;
      }
      if (Date.now() - this.startedAt > STABLE_MS) this.backoff = this.opts.initialBackoffMs ?? 500;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 30_000);
      this.restarts++;
      logger.error({ code, signal, restartInMs: delay }, "sensor exited; restarting");
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  /** Stops the sensor (SIGTERM, then SIGKILL after a grace period) and waits for it. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("close", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
}

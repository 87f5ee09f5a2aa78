/**
 * For a test file that loads the eBPF sensor: such files run one at a time, whatever the
 * worker count. Two sensors at once double the events each must evaluate and can starve
 * each other's ring buffers on a two-core machine, so an action's alert could be late or lost.
 */
import { afterAll, beforeAll } from "vitest";
import { acquireLock } from "./lock.js";

const WAIT_MS = 30 * 60_000;

/** The same lock taken by hand, for a file that loads the sensor only after long preparations. */
export function acquireSensorLock(): Promise<() => void> {
  return acquireLock("sensor", WAIT_MS);
}

export function runsTheSensor(): void {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await acquireSensorLock();
  }, WAIT_MS);
  afterAll(() => release?.());
}

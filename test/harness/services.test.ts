// The harness itself: a service stopped mid-test comes back and answers again.
import { describe, expect, it } from "vitest";
import { services } from "./services.js";

describe("harness services", () => {
  it("stops and restarts Alertmanager with a real readiness check", async () => {
    // The Alertmanager test files run in the other fork: they must not see it stopped.
    const release = await services.useExclusively("alertmanager");
    try {
      await stopAndRestart();
    } finally {
      release();
    }
  });

  async function stopAndRestart(): Promise<void> {
    await services.start("alertmanager");
    expect(await services.ready("alertmanager")).toBe(true);
    expect(await services.stop("alertmanager")).toBe(true);
    expect(await services.ready("alertmanager")).toBe(false);
    expect((await services.status("alertmanager")).state).toBe("stopped");
    await services.start("alertmanager");
    expect(await services.ready("alertmanager")).toBe(true);
    expect((await services.status("alertmanager")).state).toBe("running");
  }

  it("names an unknown service clearly", async () => {
    await expect(services.start("nope")).rejects.toThrow(/unknown service "nope"; known: kafka/);
  });
});

/**
 * The dashboard's detector panel reads the provider the detector sets on the run context
 * (src/run-context.ts) while it runs; there is no panel while none is set.
 */
import type { DetectorStats, DetectorStatsProvider } from "../run-context.js";

export type { DetectorStats, DetectorStatsProvider };

/** The detector's stats from its provider; a failing provider reports why instead of throwing. */
export async function readDetectorStats(provider: DetectorStatsProvider): Promise<DetectorStats> {
  try {
    return await provider();
  } catch (err) {
    // A failing provider must not break the stream; the panel shows why instead.
    return { rules_loaded: 0, events_per_second: 0, drops: {}, state: `stats unavailable: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * The seam between the detector and the dashboard: the detector registers a function that
 * reports its counters, and the dashboard shows a detector panel only while one is set.
 * Kept free of imports so the detector can depend on it without pulling in the UI.
 */
export interface DetectorStats {
  /** Rules enabled and compiled. */
  rules_loaded: number;
  /** Events the rule engine evaluated per second, recently. */
  events_per_second: number;
  /** Events evaluated since start. */
  events_total?: number;
  /** Alerts the detector produced since start. */
  alerts_total?: number;
  /** Events the kernel kept back because no loaded rule could match them, since start. */
  filtered_total?: number;
  /** Events lost before the rule engine, by category (ring buffer full, ...), since start. */
  drops: Record<string, number>;
  /** Free-form state line: "running", "sensor missing: grant CAP_BPF", ... */
  state?: string;
}

export type DetectorStatsProvider = () => DetectorStats | Promise<DetectorStats>;

let provider: DetectorStatsProvider | undefined;

/** Called by the detector when it starts (and with undefined when it stops). */
export function setDetectorStatsProvider(fn: DetectorStatsProvider | undefined): void {
  provider = fn;
}

/** The current detector stats, or undefined when no detector reports. */
export async function readDetectorStats(): Promise<DetectorStats | undefined> {
  if (!provider) return undefined;
  try {
    return await provider();
  } catch (err) {
    // A failing provider must not break the stream; the panel shows why instead.
    return { rules_loaded: 0, events_per_second: 0, drops: {}, state: `stats unavailable: ${(err as Error)?.message ?? String(err)}` };
  }
}

export function hasDetectorStatsProvider(): boolean {
  return provider !== undefined;
}

import { randomUUID } from "node:crypto";
import type { Alert } from "../alert.js";
import type { ClosedWindow } from "./window.js";

export type NoiseKind = "dedup" | "throttle";

/** Tag every summary alert carries, so a filter or a reader can tell summaries apart. */
export const SUMMARY_TAG = "peregrine_summary";

/**
 * The alert that replaces what a window suppressed: the first alert's rule, host, source,
 * tags and fields, the window's worst priority, and `peregrine.*` fields with the counts.
 */
export function summaryAlert(kind: NoiseKind, w: ClosedWindow, windowMs: number): Alert {
  const first = w.first;
  const start = new Date(w.start).toISOString();
  const end = new Date(w.end).toISOString();
  const what = kind === "dedup" ? "repeats" : "alerts over the throttle limit";
  const why = w.early ? " (window closed early: the router is stopping)" : "";
  const alert: Alert = {
    uuid: randomUUID(),
    time: end,
    priority: w.worst,
    rule: first.rule,
    output: `${kind} summary: ${w.suppressed} ${what} of "${first.rule}" suppressed from ${start} to ${end}, ${w.count} in total${why}. First: ${first.output}`,
    output_fields: {
      ...first.output_fields,
      "peregrine.summary": kind,
      "peregrine.count": w.count,
      "peregrine.delivered": w.passed,
      "peregrine.suppressed": w.suppressed,
      "peregrine.window_start": start,
      "peregrine.window_end": end,
      "peregrine.window_ms": windowMs,
      "peregrine.first_uuid": first.uuid,
    },
    source: first.source,
    tags: first.tags.includes(SUMMARY_TAG) ? [...first.tags] : [...first.tags, SUMMARY_TAG],
    hostname: first.hostname,
  };
  if (first.custom_fields) alert.custom_fields = { ...first.custom_fields };
  return alert;
}

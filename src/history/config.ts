import { s } from "../config/schema.js";

/** `history`: the alert history behind `/api/alerts`, `/api/stats` and the dashboard's time ranges. */
export const historySchema = s
  .object({
    enabled: s.boolean().default(true).describe("Keep every accepted alert in history.db beside the journal, for /api/alerts, /api/stats and the dashboard's time ranges."),
    retention: s
      .duration()
      .range(0)
      .default(7 * 86_400_000)
      .describe("Alerts older than this (by their time) are pruned in the background; 0 keeps them until max_bytes."),
    max_bytes: s
      .bytes()
      .range(1024 * 1024)
      .default(1024 ** 3)
      .describe("Size bound of the history (alerts plus their index, estimated); past it the oldest alerts are pruned in the background."),
  })
  .describe("The alert history (see docs/dashboard.md).");

/** Messages between the router's thread and the history's writer thread. */
import type { PendingAlert } from "./writer.js";

export interface HistoryThreadData {
  dir: string;
  retentionMs: number;
  maxBytes: number;
  pruneEveryMs: number;
  /** False: retention never runs by itself (tests drive it). */
  retain: boolean;
  /** 24 bytes: Int32 [written batch, closed, open, unused], then a BigInt64 size. */
  shared: SharedArrayBuffer;
}

export type ToHistoryThread =
  | { kind: "write"; seq: number; batch: PendingAlert[] }
  | { kind: "start" }
  | { kind: "close" };

export type FromHistoryThread = { kind: "log"; level: "error" | "warn"; message: string; error: string; count?: number };

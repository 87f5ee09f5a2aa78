/**
 * The history's worker thread: every write to `history.db` (alerts, full-text index, roll-ups,
 * retention) runs here, so recording the history never takes the router's event loop from
 * ingest. The router's thread keeps its own connection for reads (WAL: readers never wait).
 *
 * Progress is shared through `workerData.shared`: Int32 slot 0 is the last batch written (the
 * router waits on it before a query so a query sees every alert accepted before it), slot 1 is
 * set once closed, slot 2 once open (2: failed to open); the BigInt64 at byte 16 is the estimated size held.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { HistoryThreadData, ToHistoryThread, FromHistoryThread } from "./thread-protocol.js";
import { HistoryWriter, openHistoryDb } from "./writer.js";

const data = workerData as HistoryThreadData;
const progress = new Int32Array(data.shared, 0, 4);
const size = new BigInt64Array(data.shared, 16, 1);
const port = parentPort;
if (!port) throw new Error("the history writer runs only as a worker thread");

function send(message: FromHistoryThread): void {
  port!.postMessage(message);
}

function opened(state: 1 | 2): void {
  Atomics.store(progress, 2, state);
  Atomics.notify(progress, 2);
}

let db: ReturnType<typeof openHistoryDb>;
let writer: HistoryWriter;
try {
  db = openHistoryDb(data.dir);
  writer = new HistoryWriter(db);
} catch (err) {
  // Failed: the router must not wait on a thread that will never write (it falls back on `exit`).
  opened(2);
  throw err;
}
Atomics.store(size, 0, BigInt(Math.round(writer.bytes)));
opened(1);

let closed = false;
let pruning = false;
let pruneTimer: NodeJS.Timeout | undefined;

function publish(seq: number): void {
  Atomics.store(size, 0, BigInt(Math.round(writer.bytes)));
  Atomics.store(progress, 0, seq);
  Atomics.notify(progress, 0);
}

function schedulePrune(delayMs: number): void {
  if (closed || pruning || !data.retain) return;
  clearTimeout(pruneTimer);
  pruneTimer = setTimeout(() => void prune(), delayMs);
}

/** Retention to completion, one short step per turn, so writes interleave with it. */
async function prune(): Promise<void> {
  pruning = true;
  try {
    while (!closed && writer.pruneStep(Date.now(), data.retentionMs, data.maxBytes, true)) {
      Atomics.store(size, 0, BigInt(Math.round(writer.bytes)));
      await new Promise((r) => setImmediate(r));
    }
  } catch (err) {
    send({ kind: "log", level: "error", message: "pruning the alert history failed", error: (err as Error).message });
  } finally {
    pruning = false;
  }
  schedulePrune(data.pruneEveryMs);
}

port.on("message", (message: ToHistoryThread) => {
  if (closed) return;
  switch (message.kind) {
    case "write":
      try {
        writer.write(message.batch);
      } catch (err) {
        // The history must never fail ingest: the alerts are already journaled.
        send({ kind: "log", level: "error", message: "writing the alert history failed; these alerts are not in the history", error: (err as Error).message, count: message.batch.length });
      }
      publish(message.seq);
      if (writer.overSize(data.maxBytes)) schedulePrune(0);
      break;
    case "start":
      schedulePrune(data.pruneEveryMs);
      break;
    case "close":
      closed = true;
      clearTimeout(pruneTimer);
      try {
        db.close();
      } finally {
        Atomics.store(progress, 1, 1);
        Atomics.notify(progress, 1);
        port.close();
      }
      break;
  }
});

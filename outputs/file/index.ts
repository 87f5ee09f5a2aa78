import { open, rename, stat, unlink, mkdir, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { s } from "../../src/config/schema.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";

/**
 * NDJSON file with size-based rotation: `alerts.ndjson` rolls to `alerts.ndjson.1`, `.1` to
 * `.2`, ... and the oldest beyond `max_files` is removed.
 */
export const fileOutput = defineOutput({
  type: "file",
  summary: "Appends alerts to an NDJSON file, rotated by size.",
  schema: s.object({
    path: s.string().notEmpty().describe("File to append to; its directory is created when missing."),
    max_size: s.bytes().range(1024).default(100 * 1024 * 1024).describe("Size at which the file rotates."),
    max_files: s.int().range(0, 1000).default(5).describe("Rotated files kept besides the current one."),
  }),
  laneDefaults: { batch: { max_events: 1000, max_wait_ms: 50 } },
  create(config) {
    let handle: FileHandle | undefined;
    let size = 0;

    async function ensureOpen(): Promise<FileHandle> {
      if (handle) return handle;
      await mkdir(dirname(config.path), { recursive: true });
      handle = await open(config.path, "a");
      size = (await stat(config.path)).size;
      return handle;
    }

    async function rotate(): Promise<void> {
      await handle?.close();
      handle = undefined;
      if (config.max_files === 0) {
        await unlink(config.path).catch(() => {});
        return;
      }
      await unlink(`${config.path}.${config.max_files}`).catch(() => {});
      for (let i = config.max_files - 1; i >= 1; i--)
        await rename(`${config.path}.${i}`, `${config.path}.${i + 1}`).catch(() => {});
      await rename(config.path, `${config.path}.1`);
    }

    return {
      async send(batch): Promise<SendResult> {
        try {
          let text = "";
          for (const alert of batch) text += `${JSON.stringify(alert)}\n`;
          const bytes = Buffer.byteLength(text);
          let fh = await ensureOpen();
          if (size > 0 && size + bytes > config.max_size) {
            await rotate();
            fh = await ensureOpen();
          }
          await fh.write(text);
          await fh.datasync();
          size += bytes;
          return { kind: "ok" };
        } catch (err) {
          // A full disk or a permission fixed later: retry rather than lose.
          await handle?.close().catch(() => {});
          handle = undefined;
          return { kind: "retry", reason: `cannot write ${config.path}: ${errorMessage(err)}` };
        }
      },
      async close() {
        await handle?.close();
        handle = undefined;
      },
    };
  },
});

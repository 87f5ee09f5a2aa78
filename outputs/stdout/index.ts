import { once } from "node:events";
import { alertTextLine, type Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";

/** One JSON line per alert on stdout (logs go to stderr), or Falco's text line. */
export const stdoutOutput = defineOutput({
  type: "stdout",
  summary: "Writes each alert to standard output as a JSON line, or as Falco's text line.",
  schema: s.object({
    format: s.string().oneOf(["json", "text"]).default("json").describe("json: the alert as one JSON line; text: `<time>: <Priority> <output>` (an output that starts with them, as Falco's does, is printed as it is)."),
  }),
  laneDefaults: { batch: { max_events: 500, max_wait_ms: 0 } },
  create(config) {
    const encode = config.format === "text" ? alertTextLine : (a: Alert) => JSON.stringify(a);
    return {
      async send(batch): Promise<SendResult> {
        let text = "";
        for (const alert of batch) text += `${encode(alert)}\n`;
        if (!process.stdout.write(text)) await once(process.stdout, "drain");
        return { kind: "ok" };
      },
      async close() {},
    };
  },
});

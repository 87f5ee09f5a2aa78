import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { RecentAlerts } from "../../src/ui/recent.js";

const alert = (n: number): Alert => ({ uuid: `u${n}`, time: "2024-01-01T00:00:00Z", priority: "Notice", rule: "r", output: `${n}`, output_fields: {}, source: "syscall", tags: [], hostname: "h" });
const outputs = (r: RecentAlerts) => r.list().map((a) => a.output);

describe("recent alerts ring", () => {
  it("keeps the newest by count, oldest first", () => {
    const r = new RecentAlerts({ maxAlerts: 3, maxBytes: 1e9 });
    for (let i = 0; i < 7; i++) r.add(alert(i), 10);
    expect(outputs(r)).toEqual(["4", "5", "6"]);
    expect(r.list(2).map((a) => a.output)).toEqual(["5", "6"]);
    expect(r.bytes).toBe(30);
  });

  it("keeps the newest by bytes: big alerts push the oldest out; one larger than the budget is not kept", () => {
    const r = new RecentAlerts({ maxAlerts: 100, maxBytes: 1000 });
    for (let i = 0; i < 10; i++) r.add(alert(i), 100);
    expect(r.count).toBe(10);
    r.add(alert(10), 450);
    expect(outputs(r)).toEqual(["5", "6", "7", "8", "9", "10"]);
    expect(r.bytes).toBe(950);
    r.add(alert(11), 5000);
    expect(r.count).toBe(6);
    // It grows again (in order) after bytes made room, never beyond maxAlerts.
    for (let i = 12; i < 40; i++) r.add(alert(i), 1);
    expect(r.count).toBeLessThanOrEqual(100);
    expect(r.bytes).toBeLessThanOrEqual(1000);
    const got = outputs(r);
    expect(got.at(-1)).toBe("39");
    expect(got).toEqual([...got].sort((a, b) => Number(a) - Number(b)));
  });

  it("stays within both bounds under a random mix", () => {
    const r = new RecentAlerts({ maxAlerts: 50, maxBytes: 5000 });
    let last = -1;
    for (let i = 0; i < 20_000; i++) {
      const size = 1 + ((i * 7919) % 700);
      r.add(alert(i), size);
      last = i;
      expect(r.count).toBeLessThanOrEqual(50);
      expect(r.bytes).toBeLessThanOrEqual(5000);
    }
    const got = outputs(r).map(Number);
    expect(got.at(-1)).toBe(last);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBe(got[i - 1]! + 1);
  });
});

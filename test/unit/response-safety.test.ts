import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { Allowlist, RateLimits, readSelf, type AllowlistConfig } from "../../src/response/safety.js";

const none: AllowlistConfig = { namespaces: [], pods: [], processes: [], containers: [], nodes: [] };
const proc = (pid: number, name = "x") => ({ kind: "process", description: `pid ${pid}`, identity: { pid: String(pid), name } });
const children = [spawn("sleep", ["60"], { stdio: "ignore" })];
afterAll(() => children.forEach((c) => c.kill("SIGKILL")));

describe("allowlist", () => {
  const self = readSelf({});
  const list = new Allowlist({ ...none, namespaces: ["falco"], pods: ["prod/db-0"], processes: ["sshd"], containers: ["keepme"], nodes: ["control-1"] }, { ...self, pod: { namespace: "peregrine", name: "peregrine-abc" }, containerId: "a".repeat(64) });

  it("pid 1, pid 2, the router, its ancestors and children are never touched", () => {
    expect(list.refusal(proc(1))).toBe("pid 1 (the init process) is never touched");
    expect(list.refusal(proc(2))).toBe("pid 2 (kthreadd) is never touched");
    expect(list.refusal(proc(process.pid))).toBe(`pid ${process.pid} is the router itself`);
    expect(list.refusal(proc(process.ppid))).toBe(`pid ${process.ppid} is an ancestor of the router`);
    expect(list.refusal(proc(children[0]!.pid!))).toBe(`pid ${children[0]!.pid} is a child of the router (its sensor or detector)`);
    expect(list.refusal(proc(0))).toBe("pid 0 is not a process id");
  });

  it("namespaces, pods, nodes and containers: built in, the router's own, and configured", () => {
    const pod = (namespace: string, name: string) => ({ kind: "pod", description: "", identity: { namespace, name, uid: "u" } });
    expect(list.refusal(pod("kube-system", "coredns"))).toBe("namespace kube-system is allowlisted (built in)");
    expect(list.refusal(pod("peregrine", "other"))).toBe("namespace peregrine is allowlisted (the router's own namespace)");
    expect(list.refusal(pod("falco", "falco-1"))).toBe("namespace falco is allowlisted (response.allowlist.namespaces)");
    expect(list.refusal(pod("prod", "db-0"))).toBe("pod prod/db-0 is allowlisted");
    expect(list.refusal(pod("prod", "web-0"))).toBeUndefined();
    expect(list.refusal({ kind: "namespace", description: "", identity: { name: "kube-system" } })).toContain("cannot be deleted");
    expect(list.refusal({ kind: "node", description: "", identity: { name: "control-1" } })).toContain("node control-1 is allowlisted");
    expect(list.refusal({ kind: "container", description: "", identity: { id: "a".repeat(64), name: "me" } })).toContain("the router's own");
    expect(list.refusal({ kind: "container", description: "", identity: { id: "b".repeat(64), name: "keepme" } })).toContain("container keepme is allowlisted");
    expect(list.refusal({ kind: "container", description: "", identity: { id: "c".repeat(64), name: "web" } })).toBeUndefined();
  });

  it("rate limits per actionner: the burst, then refusals", () => {
    const r = new RateLimits({ per_second: 0.001, burst: 2 }, { "process:kill": { per_second: 0.001, burst: 1 } });
    expect([r.take("docker:stop"), r.take("docker:stop"), r.take("docker:stop")]).toEqual([true, true, false]);
    expect([r.take("process:kill"), r.take("process:kill")]).toEqual([true, false]);
    expect(new RateLimits({ per_second: 0, burst: 1 }, {}).take("x")).toBe(true);
  });
});

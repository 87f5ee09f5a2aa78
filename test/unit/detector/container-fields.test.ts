/**
 * The container plugin's fields in rules: conditions and outputs written as Falco's sandbox
 * and incubating rules write them load with no error, and evaluate against a container's
 * metadata as the engines report it (the values are data here; a real engine answers them in
 * test/e2e/container-metadata.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EventSource } from "../../../src/detector/event.js";
import { defaultSources, loadRules } from "../../../src/detector/load.js";
import type { ContainerInfo } from "../../../src/detector/metadata/types.js";
import { createSyscallSource } from "../../../src/detector/sources/syscall/source.js";
import { ProcessTable, type Proc } from "../../../src/detector/sources/syscall/state.js";
import type { SyscallEvent } from "../../../src/detector/sources/syscall/tracker.js";

// conditions as Falco's sandbox rules write them
const RULES = `
- macro: container
  condition: (container.id != host)
- macro: container_started
  condition: ((evt.type = container or (evt.type in (execve, execveat) and proc.vpid=1)) and container.image.repository != incomplete)
- macro: sensitive_mount
  condition: (container.mount.dest[/proc*] != "N/A" or container.mount.dest[/var/run/docker.sock] != "N/A" or container.mount.dest[/etc] != "N/A" or container.mount.dest[/] != "N/A")
- rule: Launch Sensitive Mount Container
  desc: sandbox-style rule on container mounts
  condition: container_started and container and sensitive_mount
  output: "Container with sensitive mount started (mounts=%container.mounts %container.info image=%container.image.repository:%container.image.tag pod=%k8s.pod.name ns=%k8s.ns.name)"
  priority: INFO
- rule: Privileged container started
  desc: incubating-style rule
  condition: container_started and container and container.privileged=true and container.label[team]=blue and container.mount[0] startswith /var/run
  output: "privileged %container.name %container.labels %container.type %container.full_id %container.image.id host_network=%container.host_network"
  priority: INFO
`;

const dir = mkdtempSync(join(tmpdir(), "pg-ctrfields-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ID = "0123456789ab";
const info: ContainerInfo = {
  type: "docker",
  engine: "docker",
  fullId: `${ID}${"c".repeat(52)}`,
  name: "web",
  image: "peregrine/testbase:bookworm",
  imageId: "b18d225a54f6",
  imageRepository: "peregrine/testbase",
  imageTag: "bookworm",
  privileged: true,
  mounts: [{ source: "/var/run/docker.sock", dest: "/var/run/docker.sock", mode: "", rdwr: true, propagation: "rprivate" }],
  hostPid: false,
  hostNetwork: true,
  hostIpc: false,
  labels: { team: "blue" },
};

function event(containerId: string): SyscallEvent {
  const proc = { pid: 10, vpid: 1, comm: "sh", args: [], env: [], containerId, fds: new Map() } as unknown as Proc;
  return { num: 1, type: "container", spec: undefined, tsBoot: 1, tid: 10, ret: 0, uid: 0, gid: 0, proc, fd: undefined, fdNum: undefined, fdNameChanged: false, argNames: [], argValues: [], flags: undefined };
}

describe("container fields in rules", () => {
  const file = join(dir, "rules.yaml");
  writeFileSync(file, RULES);
  const known = new Map([[ID, info]]);
  const source = createSyscallSource({
    table: new ProcessTable({ read: () => undefined }),
    users: { userName: () => undefined, groupName: () => undefined },
    bootOffsetNs: () => 0n,
    containers: { get: (id) => known.get(id) },
  });
  const sources = [source as unknown as EventSource<never>, ...defaultSources().filter((s) => s.name !== "syscall")];
  const { ruleset, results } = loadRules({ files: [file], sources, ruleMatching: "all" });

  it("load with no error", () => {
    expect(results.errors).toEqual([]);
    expect(results.ok).toBe(true);
  });

  it("evaluate a container event against the engine's metadata, mounts by destination glob and labels by key", () => {
    const found = ruleset.evaluate(source, event(ID));
    expect(found.map((a) => a.rule).sort()).toEqual(["Launch Sensitive Mount Container", "Privileged container started"]);
    const priv = found.find((a) => a.rule === "Privileged container started")!;
    expect(priv.output).toContain(`privileged web team:blue docker ${info.fullId} b18d225a54f6 host_network=true`);
    const mount = found.find((a) => a.rule === "Launch Sensitive Mount Container")!;
    expect(mount.output).toContain("mounts=/var/run/docker.sock:/var/run/docker.sock::true:rprivate  image=peregrine/testbase:bookworm pod=<NA> ns=<NA>");
  });

  it("a container no engine knows matches nothing that needs its metadata", () => {
    expect(ruleset.evaluate(source, event("ba9876543210"))).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { ContainerdEngine, containerdInfo, specIsPrivileged } from "../../../src/detector/metadata/containerd.js";
import { EngineDownError } from "../../../src/detector/metadata/types.js";
import { Fields, pb } from "../../../src/detector/metadata/grpc.js";

/** A containers.v1 Container record as containerd encodes it, with an OCI spec in its Any. */
function record(spec: object, labels: Record<string, string> = {}): Fields {
  return Fields.decode(
    Buffer.concat([
      pb.str(1, "ab".repeat(32)),
      pb.map(2, labels),
      pb.str(3, "docker.io/peregrine/testbase:bookworm"),
      pb.msg(5, pb.str(1, "types.containerd.io/opencontainers/runtime-spec/1/Spec"), pb.str(2, JSON.stringify(spec))),
      pb.msg(8, pb.int(1, 1_700_000_000), pb.int(2, 5)),
    ]),
  );
}

const confined = {
  process: { apparmorProfile: "" },
  mounts: [
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "ro"] },
    { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "ro"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["mode=1777"] },
  ],
  linux: { namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "mount" }], maskedPaths: ["/proc/kcore"], readonlyPaths: ["/proc/sys"], rootfsPropagation: "rslave" },
};

describe("containerd container records", () => {
  it("reads name, image, mounts, host namespaces and creation time as Falco's container plugin does", () => {
    const info = containerdInfo(record(confined, { "nerdctl/name": "web", tier: "backend" }), "sha256:feed");
    expect(info).toMatchObject({
      type: "containerd",
      fullId: "ab".repeat(32),
      name: "web",
      image: "docker.io/peregrine/testbase:bookworm",
      imageRepository: "docker.io/peregrine/testbase",
      imageTag: "bookworm",
      imageDigest: "sha256:feed",
      imageId: "",
      privileged: false,
      hostPid: false,
      hostIpc: false,
      hostNetwork: true,
      labels: { "nerdctl/name": "web", tier: "backend" },
      startNs: 1_700_000_000_000_000_005n,
    });
    expect(info.mounts).toEqual([
      { source: "sysfs", dest: "/sys", mode: "", rdwr: false, propagation: "rslave" },
      { source: "/srv/data", dest: "/data", mode: "", rdwr: false, propagation: "rslave" },
      { source: "shm", dest: "/dev/shm", mode: "1777", rdwr: true, propagation: "rslave" },
    ]);
  });

  it("names a container without nerdctl's label by its short id", () => {
    expect(containerdInfo(record(confined), undefined).name).toBe("abababababab");
  });

  it("is privileged only with no masked or read-only paths, no seccomp and sysfs mounted read-write", () => {
    const privileged = {
      process: {},
      mounts: [{ destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "rw"] }],
      linux: { namespaces: [{ type: "pid" }] },
    };
    expect(specIsPrivileged(privileged)).toBe(true);
    expect(specIsPrivileged(confined)).toBe(false);
    expect(specIsPrivileged({ ...privileged, linux: { ...privileged.linux, seccomp: { defaultAction: "SCMP_ACT_ERRNO" } } })).toBe(false);
    expect(specIsPrivileged({ ...privileged, mounts: [{ destination: "/sys", type: "sysfs", options: ["ro"] }] })).toBe(false);
    expect(specIsPrivileged({ ...privileged, process: { apparmorProfile: "docker-default" } })).toBe(false);
  });

  it("a socket that does not exist is an engine down, not an unknown container", async () => {
    const e = new ContainerdEngine("/nonexistent/containerd.sock");
    await expect(e.inspect("abababababab")).rejects.toBeInstanceOf(EngineDownError);
    e.close();
  });
});

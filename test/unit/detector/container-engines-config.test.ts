import { describe, expect, it } from "vitest";
import { readDetectorConfig } from "../../../src/detector/sources/syscall/config.js";
import { createEngines, DEFAULT_SOCKETS } from "../../../src/detector/metadata/engines.js";
import { splitImage } from "../../../src/detector/metadata/types.js";

describe("detector.container_engines", () => {
  it("defaults to every engine at its default sockets, cri asked before containerd's own API", () => {
    const r = readDetectorConfig({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.containerEngines.docker).toEqual({ enabled: true, sockets: [...DEFAULT_SOCKETS.docker] });
    expect(r.config.containerEngines.cri.sockets).toContain("/run/crio/crio.sock");
    expect(createEngines(r.config.containerEngines).map((e) => `${e.name}@${e.socket}`)).toEqual([
      "docker@/var/run/docker.sock",
      "podman@/run/podman/podman.sock",
      "cri@/run/containerd/containerd.sock",
      "cri@/run/crio/crio.sock",
      "cri@/run/k3s/containerd/containerd.sock",
      "containerd@/run/containerd/containerd.sock",
    ]);
  });

  it("takes enabled and sockets per engine", () => {
    const r = readDetectorConfig({ container_engines: { docker: { sockets: ["/a.sock", "/b.sock"] }, podman: { enabled: false }, cri: { sockets: ["/run/crio/crio.sock"] } } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(createEngines(r.config.containerEngines).map((e) => `${e.name}@${e.socket}`)).toEqual([
      "docker@/a.sock",
      "docker@/b.sock",
      "cri@/run/crio/crio.sock",
      "containerd@/run/containerd/containerd.sock",
    ]);
  });

  it("names the field of a relative socket, an unknown engine and a wrong type", () => {
    const rel = readDetectorConfig({ container_engines: { docker: { sockets: ["docker.sock"] } } });
    expect(rel.ok).toBe(false);
    if (rel.ok) return;
    expect(rel.problems.some((p) => p.startsWith("detector.container_engines.docker.sockets.0: must be an absolute socket path"))).toBe(true);
    const r = readDetectorConfig({ container_engines: { rkt: {}, podman: { enabled: "yes" } } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.some((p) => p.startsWith("detector.container_engines.rkt: unknown key"))).toBe(true);
    expect(r.problems.some((p) => p.startsWith("detector.container_engines.podman.enabled"))).toBe(true);
  });
});

describe("image references", () => {
  it("splits repository, tag and digest as the engines name them", () => {
    expect(splitImage("peregrine/testbase:bookworm")).toEqual({ repository: "peregrine/testbase", tag: "bookworm" });
    expect(splitImage("registry:5000/team/app")).toEqual({ repository: "registry:5000/team/app", tag: "" });
    expect(splitImage("registry:5000/team/app:1.2@sha256:abc")).toEqual({ repository: "registry:5000/team/app", tag: "1.2", digest: "sha256:abc" });
  });
});

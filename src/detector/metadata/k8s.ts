/**
 * Kubernetes metadata, as Falco's k8smeta plugin gives it: the pods bound to this node
 * (watched with fieldSelector spec.nodeName), and the namespaces, replica sets, deployments,
 * replication controllers and services they relate to, each kept by list + watch from the
 * API server in the background. Lookups read the caches only: an event is never held for the
 * API server. A process's pod is found through its container id (the kubelet reports every
 * container's id in the pod's status).
 *
 * When the API server cannot be reached, the caches keep what they had, the fields of
 * unknown pods are missing (<NA>), one warning is logged per outage (not per request) and
 * `stats().apiErrors` counts the failed requests.
 */
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import { K8sClient, K8sHttpError, type K8sCredentials, type WatchEvent } from "./k8s-client.js";

export interface K8sObject {
  uid: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  owners: readonly { kind: string; name: string; uid: string; controller: boolean }[];
}

export interface K8sPod extends K8sObject {
  ip?: string;
  /** Container ids (64 hex digits) of the pod's containers, from its status. */
  containerIds: readonly string[];
}

export interface K8sService extends K8sObject {
  selector: Readonly<Record<string, string>>;
}

/** Everything known about the pod a process runs in. */
export interface PodMetadata {
  pod: K8sPod;
  namespace?: K8sObject;
  replicaSet?: K8sObject;
  deployment?: K8sObject;
  replicationController?: K8sObject;
  services: readonly K8sService[];
}

export interface K8sMetaOptions {
  credentials: K8sCredentials;
  nodeName: string;
  logger: Logger;
}

export interface K8sMetaStats {
  pods: number;
  namespaces: number;
  replicaSets: number;
  deployments: number;
  replicationControllers: number;
  services: number;
  /** Failed list/watch requests since start. */
  apiErrors: number;
  /** True while every watch is established. */
  synced: boolean;
}

type Raw = Record<string, unknown>;
const rec = (v: unknown): Raw => (v !== null && typeof v === "object" ? (v as Raw) : {});
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === "string") out[k] = x;
  return out;
};

function objectOf(raw: Raw): K8sObject {
  const m = rec(raw.metadata);
  return {
    uid: String(m.uid ?? ""),
    name: String(m.name ?? ""),
    namespace: String(m.namespace ?? ""),
    labels: strMap(m.labels),
    owners: (Array.isArray(m.ownerReferences) ? m.ownerReferences : []).map((o) => {
      const r = rec(o);
      return { kind: String(r.kind ?? ""), name: String(r.name ?? ""), uid: String(r.uid ?? ""), controller: r.controller === true };
    }),
  };
}

/** "containerd://<id>", "cri-o://<id>", "docker://<id>" → the id. */
function containerIdsOf(status: Raw): string[] {
  const ids: string[] = [];
  for (const key of ["initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"]) {
    const list = status[key];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      const id = rec(c).containerID;
      if (typeof id === "string") {
        const at = id.indexOf("://");
        if (at >= 0 && id.length > at + 3) ids.push(id.slice(at + 3));
      }
    }
  }
  return ids;
}

function podOf(raw: Raw): K8sPod {
  const status = rec(raw.status);
  const ip = typeof status.podIP === "string" && status.podIP !== "" ? status.podIP : undefined;
  return { ...objectOf(raw), ...(ip ? { ip } : {}), containerIds: containerIdsOf(status) };
}

function serviceOf(raw: Raw): K8sService {
  return { ...objectOf(raw), selector: strMap(rec(raw.spec).selector) };
}

interface Resource<T extends K8sObject> {
  what: string;
  path: string;
  parse(raw: Raw): T;
  store: Map<string, T>;
  onChange?(): void;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export class K8sMeta {
  private readonly client: K8sClient;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly pods = new Map<string, K8sPod>();
  private readonly namespaces = new Map<string, K8sObject>();
  private readonly replicaSets = new Map<string, K8sObject>();
  private readonly deployments = new Map<string, K8sObject>();
  private readonly replicationControllers = new Map<string, K8sObject>();
  private readonly services = new Map<string, K8sService>();
  /** Container id (12 and 64 digits) → pod uid; rebuilt lazily after a pod changes. */
  private byContainer = new Map<string, string>();
  private byContainerStale = true;
  private nsByName = new Map<string, K8sObject>();
  private nsStale = true;
  /** PodMetadata by pod uid, dropped whenever any cached object changes. */
  private readonly memo = new Map<string, PodMetadata>();
  private readonly loops: Promise<void>[] = [];
  private readonly failing = new Set<string>();
  private readonly listed = new Set<string>();
  private apiErrors = 0;
  private outage = false;
  private firstSync!: () => void;
  /** Resolves once every collection has been listed once. */
  readonly synced: Promise<void>;

  constructor(private readonly opts: K8sMetaOptions) {
    this.client = new K8sClient(opts.credentials);
    // one signal for the six lists and watches, each request listening on it while it runs
    setMaxListeners(64, this.abort.signal);
    this.log = opts.logger;
    this.synced = new Promise((r) => (this.firstSync = r));
  }

  start(): void {
    const node = encodeURIComponent(`spec.nodeName=${this.opts.nodeName}`);
    const resources: Resource<K8sObject>[] = [
      { what: "pods", path: `/api/v1/pods?fieldSelector=${node}`, parse: podOf, store: this.pods, onChange: () => (this.byContainerStale = true) },
      { what: "namespaces", path: "/api/v1/namespaces", parse: objectOf, store: this.namespaces, onChange: () => (this.nsStale = true) },
      { what: "replicasets", path: "/apis/apps/v1/replicasets", parse: objectOf, store: this.replicaSets },
      { what: "deployments", path: "/apis/apps/v1/deployments", parse: objectOf, store: this.deployments },
      { what: "replicationcontrollers", path: "/api/v1/replicationcontrollers", parse: objectOf, store: this.replicationControllers },
      { what: "services", path: "/api/v1/services", parse: serviceOf, store: this.services as Map<string, K8sObject> },
    ];
    for (const r of resources) this.loops.push(this.reflect(r, resources.length));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    await this.client.close();
  }

  /** List, then watch from the list's resourceVersion; on any failure list again after a backoff. */
  private async reflect<T extends K8sObject>(r: Resource<T>, total: number): Promise<void> {
    const signal = this.abort.signal;
    let delay = RETRY_MIN_MS;
    while (!signal.aborted) {
      try {
        const list = await this.client.get<{ metadata?: { resourceVersion?: string }; items?: Raw[] }>(r.path, signal);
        r.store.clear();
        for (const item of list.items ?? []) {
          const o = r.parse(item);
          r.store.set(o.uid, o);
        }
        r.onChange?.();
        this.memo.clear();
        this.recovered(r.what);
        if (!this.listed.has(r.what)) {
          this.listed.add(r.what);
          if (this.listed.size === total) this.firstSync();
        }
        delay = RETRY_MIN_MS;
        let rv = list.metadata?.resourceVersion ?? "";
        for (;;) {
          rv = await this.client.watch<Raw>(
            r.path,
            rv,
            (ev: WatchEvent<Raw>) => {
              const o = r.parse(ev.object);
              if (ev.type === "DELETED") r.store.delete(o.uid);
              else r.store.set(o.uid, o);
              r.onChange?.();
              this.memo.clear();
            },
            signal,
          );
          if (signal.aborted) return;
        }
      } catch (err) {
        if (signal.aborted) return;
        // 410: our resourceVersion is too old, an ordinary event; list again at once
        if (err instanceof K8sHttpError && err.status === 410) continue;
        this.apiErrors++;
        this.failed(r.what, err as Error);
        await new Promise((res) => setTimeout(res, delay).unref());
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private failed(what: string, err: Error): void {
    this.failing.add(what);
    if (this.outage) return;
    this.outage = true;
    this.log.warn({ server: this.opts.credentials.server, resource: what, err: err.message }, "kubernetes API server unreachable; k8s fields of pods not yet seen are <NA> until it answers");
  }

  private recovered(what: string): void {
    this.failing.delete(what);
    if (this.outage && this.failing.size === 0) {
      this.outage = false;
      this.log.info({ server: this.opts.credentials.server }, "kubernetes API server answers again");
    }
  }

  /** The pod metadata of a container (by its 12- or 64-digit id), from the caches only. */
  podOfContainer(containerId: string): PodMetadata | undefined {
    if (this.byContainerStale) {
      const m = new Map<string, string>();
      for (const p of this.pods.values())
        for (const id of p.containerIds) {
          m.set(id, p.uid);
          m.set(id.slice(0, 12), p.uid);
        }
      this.byContainer = m;
      this.byContainerStale = false;
    }
    const uid = this.byContainer.get(containerId);
    const pod = uid === undefined ? undefined : this.pods.get(uid);
    if (!pod) return undefined;
    let meta = this.memo.get(pod.uid);
    if (!meta) this.memo.set(pod.uid, (meta = this.related(pod)));
    return meta;
  }

  private related(pod: K8sPod): PodMetadata {
    if (this.nsStale) {
      this.nsByName = new Map([...this.namespaces.values()].map((n) => [n.name, n]));
      this.nsStale = false;
    }
    const owner = (o: K8sObject, kind: string, store: Map<string, K8sObject>) => {
      const ref = o.owners.find((x) => x.kind === kind && x.controller) ?? o.owners.find((x) => x.kind === kind);
      return ref ? store.get(ref.uid) : undefined;
    };
    const replicaSet = owner(pod, "ReplicaSet", this.replicaSets);
    const deployment = replicaSet ? owner(replicaSet, "Deployment", this.deployments) : undefined;
    const replicationController = owner(pod, "ReplicationController", this.replicationControllers);
    const namespace = this.nsByName.get(pod.namespace);
    const services: K8sService[] = [];
    for (const s of this.services.values()) {
      if (s.namespace !== pod.namespace) continue;
      const sel = Object.entries(s.selector);
      if (sel.length > 0 && sel.every(([k, v]) => pod.labels[k] === v)) services.push(s);
    }
    return {
      pod,
      ...(namespace ? { namespace } : {}),
      ...(replicaSet ? { replicaSet } : {}),
      ...(deployment ? { deployment } : {}),
      ...(replicationController ? { replicationController } : {}),
      services,
    };
  }

  stats(): K8sMetaStats {
    return {
      pods: this.pods.size,
      namespaces: this.namespaces.size,
      replicaSets: this.replicaSets.size,
      deployments: this.deployments.size,
      replicationControllers: this.replicationControllers.size,
      services: this.services.size,
      apiErrors: this.apiErrors,
      synced: this.listed.size === 6 && this.failing.size === 0,
    };
  }
}

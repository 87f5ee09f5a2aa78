/**
 * The `k8s_audit` source's fields: every `ka.*` field of Falco's k8saudit plugin (0.18.0)
 * and the `json.*` / `jevt.*` fields of its json plugin (0.7.4), with their meaning over an
 * audit.k8s.io/v1 Event. Values are text as the plugins give them: a JSON string as itself,
 * anything else (numbers, booleans, objects, arrays) as its compact JSON. A value that is not
 * in the event, or has a shape the field cannot read, is missing (`<NA>`, every comparison
 * false), and so is an empty list. Extractors are built once per field use, at rule load.
 */
import type { ExtractedValue, Extractor, FieldInfo } from "../event.js";

/** One audit event as the rule engine sees it. */
export interface K8sAuditEvent {
  /** The event as the API server sent it (an audit.k8s.io/v1 Event object). */
  readonly doc: Readonly<Record<string, unknown>>;
  /** stageTimestamp in nanoseconds since the epoch, as text (json.rawtime). */
  readonly rawtime: string;
  /** stageTimestamp, RFC 3339 with nanoseconds (the alert's time). */
  readonly time: string;
}

/** The plugin versions whose fields this registry matches (rules' required_plugin_versions). */
export const K8S_AUDIT_PLUGIN_VERSIONS: ReadonlyMap<string, string> = new Map([
  ["k8saudit", "0.18.0"],
  ["json", "0.7.4"],
]);

type Arg = FieldInfo["arg"];

function f(name: string, description: string, extra: { list?: boolean; arg?: Arg } = {}): FieldInfo {
  return {
    name,
    type: "string",
    description,
    ...(extra.list ? { isList: true } : {}),
    ...(extra.arg ? { arg: extra.arg } : {}),
  };
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;
type ContainerList = (typeof CONTAINER_LISTS)[number];
const LIST_TEXT: Record<ContainerList, string> = {
  containers: "containers",
  initContainers: "init containers",
  ephemeralContainers: "ephemeral containers",
};

/** Per-container fields, shared by the three container lists of a pod. */
const CONTAINER_PARTS: readonly { part: string; what: string }[] = [
  { part: "name", what: "names" },
  { part: "image", what: "images" },
  { part: "image.repository", what: "image repositories (the image up to its first ':' or '@', e.g. falcosecurity/falco)" },
  { part: "command", what: "commands (each container's command joined with spaces)" },
  { part: "args", what: "args (each container's args joined with spaces)" },
  { part: "privileged", what: "securityContext.privileged values (containers that do not set it are left out)" },
  { part: "allow_privilege_escalation", what: "securityContext.allowPrivilegeEscalation values" },
  { part: "read_only_fs", what: "securityContext.readOnlyRootFilesystem values" },
  { part: "run_as_user", what: "securityContext.runAsUser values" },
  { part: "eff_run_as_user", what: "effective uids as the plugin reads them: the container's own runAsUser key, else the pod spec's runAsUser key, else 0 (neither is in a securityContext, so for real pods 0)" },
  { part: "run_as_group", what: "securityContext.runAsGroup values" },
  { part: "eff_run_as_group", what: "effective gids as the plugin reads them: the container's own runAsGroup key, else the pod spec's runAsGroup key, else 0 (neither is in a securityContext, so for real pods 0)" },
  { part: "proc_mount", what: "securityContext.procMount values" },
  { part: "add_capabilities", what: "securityContext.capabilities.add lists, one JSON array per container" },
  { part: "host_port", what: "ports' hostPort values (containerPort where no hostPort is set)" },
];

function containerFields(): FieldInfo[] {
  const out: FieldInfo[] = [];
  for (const list of CONTAINER_LISTS) {
    for (const { part, what } of CONTAINER_PARTS) {
      out.push(f(`ka.req.pod.${list}.${part}`, `When the request object is a pod: its ${LIST_TEXT[list]}' ${what}; [N] for the N-th.`, { list: true, arg: "index" }));
    }
  }
  return out;
}

export const K8S_AUDIT_FIELD_LIST: readonly FieldInfo[] = [
  f("ka.auditid", "The audit event's unique id (auditID)."),
  f("ka.stage", "Stage of the request: RequestReceived, ResponseStarted, ResponseComplete, Panic."),
  f("ka.auth.decision", "The authorization decision (annotation authorization.k8s.io/decision: allow, forbid)."),
  f("ka.auth.reason", "The authorization reason (annotation authorization.k8s.io/reason)."),
  f("ka.auth.openshift.decision", "OpenShift's authentication decision (annotation authentication.openshift.io/decision)."),
  f("ka.auth.openshift.username", "The user name of OpenShift's authentication (annotation authentication.openshift.io/username)."),
  f("ka.validations.admission.policy.failure", "The failure of a validating admission policy (annotation validation.policy.admission.k8s.io/validation_failure)."),
  f("ka.security.pod.violations", "Pod security violations (annotation pod-security.kubernetes.io/audit-violations)."),
  f("ka.user.name", "The user name performing the request."),
  f("ka.user.groups", "The groups of the user performing the request.", { list: true }),
  f("ka.impuser.name", "The impersonated user name."),
  f("ka.verb", "The action: get, list, watch, create, update, patch, delete, ..."),
  f("ka.uri", "The request URI as the client sent it."),
  f("ka.uri.param", "One query parameter of the URI (ka.uri.param[command]); its first value.", { arg: "required" }),
  f("ka.target.name", "The target object's name."),
  f("ka.target.namespace", "The target object's namespace."),
  f("ka.target.resource", "The target object's resource (pods, configmaps, clusterrolebindings, ...)."),
  f("ka.target.subresource", "The target object's subresource (exec, attach, portforward, ...)."),
  f("ka.target.pod.name", "For a request on pods without a subresource, the pod's name from the response object."),
  f("ka.req.binding.subjects", "When the request object is a (cluster) role binding: its subjects, as JSON.", { list: true }),
  f("ka.req.binding.subjects.user_names", "When the request object is a (cluster) role binding: the names of its User subjects.", { list: true }),
  f("ka.req.binding.subjects.serviceaccount_names", "When the request object is a (cluster) role binding: the names of its ServiceAccount subjects.", { list: true }),
  f("ka.req.binding.subjects.serviceaccount_ns_names", "When the request object is a (cluster) role binding: its ServiceAccount subjects as namespace:name.", { list: true }),
  f("ka.req.binding.subjects.group_names", "When the request object is a (cluster) role binding: the names of its Group subjects.", { list: true }),
  f("ka.req.binding.role", "When the request object is a (cluster) role binding: the name of the role it binds."),
  f("ka.req.binding.subject.has_name", "Deprecated; always true, kept for old rules.", { arg: "required" }),
  f("ka.req.configmap.name", "When the request is on a configmap: its name."),
  f("ka.req.configmap.obj", "When the request object is a configmap: its data, as JSON."),
  ...containerFields(),
  f("ka.req.container.image", "Deprecated by ka.req.pod.containers.image: the first container's image."),
  f("ka.req.container.image.repository", "Deprecated by ka.req.pod.containers.image.repository: the first container's image repository."),
  f("ka.req.container.privileged", "Deprecated by ka.req.pod.containers.privileged: true when any container is privileged, else false."),
  f("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network."),
  f("ka.req.pod.host_ipc", "When the request object is a pod: its hostIPC flag."),
  f("ka.req.pod.host_network", "When the request object is a pod: its hostNetwork flag."),
  f("ka.req.pod.host_pid", "When the request object is a pod: its hostPID flag."),
  f("ka.req.pod.run_as_user", "When the request object is a pod: the runAsUser of its securityContext."),
  f("ka.req.pod.run_as_group", "When the request object is a pod: the runAsGroup of its securityContext."),
  f("ka.req.pod.fs_group", "When the request object is a pod: the fsGroup of its securityContext."),
  f("ka.req.pod.supplemental_groups", "When the request object is a pod: the supplementalGroups of its securityContext.", { list: true }),
  f("ka.req.pod.volumes.hostpath", "When the request object is a pod: the hostPath paths of its volumes; [N] for the N-th volume.", { list: true, arg: "index" }),
  f("ka.req.pod.volumes.flexvolume_driver", "When the request object is a pod: the flexVolume drivers of its volumes; [N] for the N-th volume.", { list: true, arg: "index" }),
  f("ka.req.pod.volumes.volume_type", "When the request object is a pod: its volumes' types (each volume's keys but name); [N] for the N-th volume.", { list: true, arg: "index" }),
  f("ka.req.volume.hostpath", "Deprecated by ka.req.pod.volumes.hostpath: true when a volume's hostPath is the path given (a trailing * matches a prefix), else false.", { arg: "required" }),
  f("ka.req.role.rules", "When the request object is a (cluster) role: its rules, as JSON.", { list: true }),
  f("ka.req.role.rules.apiGroups", "When the request object is a (cluster) role: the apiGroups of its rules; [N] for the N-th rule.", { list: true, arg: "index" }),
  f("ka.req.role.rules.nonResourceURLs", "When the request object is a (cluster) role: the nonResourceURLs of its rules; [N] for the N-th rule.", { list: true, arg: "index" }),
  f("ka.req.role.rules.verbs", "When the request object is a (cluster) role: the verbs of its rules; [N] for the N-th rule.", { list: true, arg: "index" }),
  f("ka.req.role.rules.resources", "When the request object is a (cluster) role: the resources of its rules; [N] for the N-th rule.", { list: true, arg: "index" }),
  f("ka.req.service.type", "When the request object is a service: its type (ClusterIP, NodePort, LoadBalancer, ...)."),
  f("ka.req.service.ports", "When the request object is a service: its whole ports list as one JSON value, as the plugin reads it ([N] gives the same).", { list: true, arg: "index" }),
  f("ka.resp.name", "The response object's name."),
  f("ka.response.code", "The response's HTTP status code."),
  f("ka.response.reason", "The response's reason (usually only on failures)."),
  f("ka.useragent", "The user agent of the client."),
  f("ka.sourceips", "As the plugin reads it: the sourceIPs lists of the request object's rules (a role's), not the event's sourceIPs; [N] for the N-th rule.", { list: true, arg: "index" }),
  f("ka.cluster.name", "The cluster's name (annotation cluster_name, set by a proxy in front of the endpoint)."),
  // the json plugin, over the same event
  f("json.value", "The value at a JSON pointer (json.value[/objectRef/resource]), as text; objects and arrays as JSON.", { arg: "required" }),
  f("json.obj", "The whole event, as indented JSON."),
  f("json.rawtime", "The event's time (stageTimestamp) in nanoseconds since the epoch."),
  f("jevt.value", "Alias of json.value.", { arg: "required" }),
  f("jevt.obj", "Alias of json.obj."),
  f("jevt.rawtime", "Alias of json.rawtime."),
];

export const K8S_AUDIT_FIELDS: ReadonlyMap<string, FieldInfo> = new Map(K8S_AUDIT_FIELD_LIST.map((x) => [x.name, x]));

// ---- reading the event

type Json = unknown;
type Ev = K8sAuditEvent;

/** Plugin text of a JSON value: a string as itself, anything else as its compact JSON. */
function text(v: Json): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** One step into an object by key, or into an array by decimal index. */
function step(v: Json, key: string): Json {
  if (Array.isArray(v)) return /^(0|[1-9][0-9]*)$/.test(key) ? v[Number(key)] : undefined;
  if (v !== null && typeof v === "object") return Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, Json>)[key] : undefined;
  return undefined;
}

function at(doc: Json, keys: readonly string[]): Json {
  let v = doc;
  for (let i = 0; i < keys.length && v !== undefined; i++) v = step(v, keys[i]!);
  return v;
}

/** Reading failed: the value is there but of a shape the field cannot read (kept apart from "missing"). */
const BROKEN = Symbol("broken");

/**
 * Walks `keys`; an array met on the way fans out over its items (or takes item `index`), as
 * the plugin reads per-container and per-rule values. A fanned-out item without the rest of
 * the path yields `undefined` in its place; undefined overall when the path is not there.
 */
function gather(v: Json, keys: readonly string[], index: number | undefined, from = 0): Json[] | undefined {
  for (let i = from; i < keys.length; i++) {
    if (Array.isArray(v)) {
      if (index === undefined) {
        const out: Json[] = [];
        for (const item of v) {
          const sub = gather(item, keys, index, i);
          if (sub) out.push(...sub);
          else out.push(undefined);
        }
        return out;
      }
      if (index >= v.length) return undefined;
      v = v[index];
    }
    const k = keys[i]!;
    v = k === "" ? v : step(v, k);
    if (v === undefined) return undefined;
  }
  return [v];
}

/** Texts of the present values (missing ones left out); undefined when none. */
function presentTexts(values: readonly Json[] | undefined): string[] | undefined {
  if (!values) return undefined;
  const out: string[] = [];
  for (const v of values) if (v !== undefined) out.push(text(v)!);
  return out.length > 0 ? out : undefined;
}

/** A list field's value: the list, or with an index the one value (several joined with ','). */
function listValue(values: string[] | undefined | typeof BROKEN, indexed: boolean): ExtractedValue | undefined {
  if (values === undefined || values === BROKEN || values.length === 0) return undefined;
  return indexed ? values.join(",") : values;
}

function parseIndex(arg: string | undefined): number | undefined {
  return arg === undefined ? undefined : Number(arg);
}

const scalar =
  (...keys: string[]): Extractor<Ev> =>
  (e) =>
    text(at(e.doc, keys));

/** A list read as a whole from one place: every item's text; not a list is unreadable. */
const wholeList =
  (...keys: string[]): Extractor<Ev> =>
  (e) => {
    const v = at(e.doc, keys);
    if (!Array.isArray(v) || v.length === 0) return undefined;
    return v.map((x) => text(x)!);
  };

function containerValues(e: Ev, list: ContainerList, index: number | undefined, keys: readonly string[]): Json[] | undefined {
  return gather(e.doc, ["requestObject", "spec", list, ...keys], index);
}

/** Names or images: every container must have one (a missing one makes the field unreadable). */
function strictTexts(values: Json[] | undefined): string[] | typeof BROKEN | undefined {
  if (!values) return undefined;
  const out: string[] = [];
  for (const v of values) {
    if (v === undefined) return BROKEN;
    out.push(text(v)!);
  }
  return out;
}

function repository(image: string): string {
  return image.split(":")[0]!.split("@")[0]!;
}

/** command / args: each container's string list joined with spaces; containers without it left out. */
function joinedLists(values: Json[] | undefined): string[] | typeof BROKEN | undefined {
  if (!values) return undefined;
  const out: string[] = [];
  for (const v of values) {
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return BROKEN;
    out.push(v.join(" "));
  }
  return out;
}

function hostPorts(values: Json[] | undefined): string[] | typeof BROKEN | undefined {
  if (!values) return undefined;
  const out: string[] = [];
  for (const ports of values) {
    if (ports === undefined) continue;
    if (!Array.isArray(ports)) return BROKEN;
    for (const p of ports) {
      const port = step(p, "hostPort") ?? step(p, "containerPort");
      if (port !== undefined) out.push(text(port)!);
    }
  }
  return out;
}

/**
 * The plugin's effective uid/gid: it reads `key` right under the container and right under
 * the pod spec (not under their securityContext), with 0 when neither has it.
 */
function effective(e: Ev, list: ContainerList, index: number | undefined, key: string): string[] | undefined {
  const pod = text(at(e.doc, ["requestObject", "spec", key])) ?? "0";
  const values = containerValues(e, list, index, [key]);
  return values?.map((v) => (v === undefined ? pod : text(v)!));
}

function containerExtractor(list: ContainerList, part: string, arg: string | undefined): Extractor<Ev> | undefined {
  const index = parseIndex(arg);
  const indexed = index !== undefined;
  const plain = (keys: string[]): Extractor<Ev> => (e) => listValue(presentTexts(containerValues(e, list, index, keys)), indexed);
  switch (part) {
    case "name":
    case "image":
      return (e) => listValue(strictTexts(containerValues(e, list, index, [part])), indexed);
    case "image.repository":
      return (e) => {
        const images = strictTexts(containerValues(e, list, index, ["image"]));
        return listValue(images === BROKEN || images === undefined ? images : images.map(repository), indexed);
      };
    case "command":
    case "args":
      return (e) => listValue(joinedLists(containerValues(e, list, index, [part])), indexed);
    case "host_port":
      return (e) => listValue(hostPorts(containerValues(e, list, index, ["ports"])), indexed);
    case "privileged":
      return plain(["securityContext", "privileged"]);
    case "allow_privilege_escalation":
      return plain(["securityContext", "allowPrivilegeEscalation"]);
    case "read_only_fs":
      return plain(["securityContext", "readOnlyRootFilesystem"]);
    case "run_as_user":
      return plain(["securityContext", "runAsUser"]);
    case "run_as_group":
      return plain(["securityContext", "runAsGroup"]);
    case "proc_mount":
      return plain(["securityContext", "procMount"]);
    case "add_capabilities":
      return plain(["securityContext", "capabilities", "add"]);
    case "eff_run_as_user":
      return (e) => listValue(effective(e, list, index, "runAsUser"), indexed);
    case "eff_run_as_group":
      return (e) => listValue(effective(e, list, index, "runAsGroup"), indexed);
    default:
      return undefined;
  }
}

function subjectNames(e: Ev, kind: "User" | "ServiceAccount" | "Group", withNamespace = false): ExtractedValue | undefined {
  const subjects = at(e.doc, ["requestObject", "subjects"]);
  if (!Array.isArray(subjects)) return undefined;
  const out: string[] = [];
  for (const s of subjects) {
    if (step(s, "kind") !== kind) continue;
    const name = step(s, "name");
    if (typeof name !== "string") continue;
    if (withNamespace) {
      const ns = step(s, "namespace");
      if (typeof ns !== "string") continue;
      out.push(`${ns}:${name}`);
    } else out.push(name);
  }
  return out.length > 0 ? out : undefined;
}

/** Per-rule lists of a role (verbs, resources, ...), flattened. */
function roleRules(key: string, arg: string | undefined): Extractor<Ev> {
  const index = parseIndex(arg);
  return (e) => {
    const values = gather(e.doc, ["requestObject", "rules", key], index);
    if (!values) return undefined;
    const out: string[] = [];
    for (const v of values) if (Array.isArray(v)) for (const x of v) out.push(text(x)!);
    return listValue(out, index !== undefined);
  };
}

/** json.value's pointer: RFC 6901, a leading '/' optional as the plugin allows; '' is the whole event. */
function pointerTokens(arg: string): string[] {
  const p = arg.startsWith("/") ? arg.slice(1) : arg;
  if (p === "") return [];
  return p.split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The extractor of one field use; undefined for an unknown field or an unusable argument. */
export function k8sAuditExtractor(field: string, arg: string | undefined): Extractor<Ev> | undefined {
  for (const list of CONTAINER_LISTS) {
    const prefix = `ka.req.pod.${list}.`;
    if (field.startsWith(prefix)) return containerExtractor(list, field.slice(prefix.length), arg);
  }
  switch (field) {
    case "ka.auditid":
      return scalar("auditID");
    case "ka.stage":
      return scalar("stage");
    case "ka.auth.decision":
      return scalar("annotations", "authorization.k8s.io/decision");
    case "ka.auth.reason":
      return scalar("annotations", "authorization.k8s.io/reason");
    case "ka.auth.openshift.decision":
      return scalar("annotations", "authentication.openshift.io/decision");
    case "ka.auth.openshift.username":
      return scalar("annotations", "authentication.openshift.io/username");
    case "ka.validations.admission.policy.failure":
      return scalar("annotations", "validation.policy.admission.k8s.io/validation_failure");
    case "ka.security.pod.violations":
      return scalar("annotations", "pod-security.kubernetes.io/audit-violations");
    case "ka.cluster.name":
      return scalar("annotations", "cluster_name");
    case "ka.user.name":
      return scalar("user", "username");
    case "ka.user.groups":
      return wholeList("user", "groups");
    case "ka.impuser.name":
      return scalar("impersonatedUser", "username");
    case "ka.verb":
      return scalar("verb");
    case "ka.uri":
      return scalar("requestURI");
    case "ka.uri.param": {
      if (arg === undefined) return undefined;
      const key = arg;
      return (e) => {
        const uri = at(e.doc, ["requestURI"]);
        if (typeof uri !== "string") return undefined;
        const q = uri.indexOf("?");
        if (q < 0) return undefined;
        try {
          return new URLSearchParams(uri.slice(q + 1).split("#")[0]).get(key) ?? undefined;
        } catch {
          return undefined;
        }
      };
    }
    case "ka.target.name":
    case "ka.req.configmap.name":
      return scalar("objectRef", "name");
    case "ka.target.namespace":
      return scalar("objectRef", "namespace");
    case "ka.target.resource":
      return scalar("objectRef", "resource");
    case "ka.target.subresource":
      return scalar("objectRef", "subresource");
    case "ka.target.pod.name":
      return (e) => {
        if (at(e.doc, ["objectRef", "resource"]) !== "pods") return undefined;
        const sub = at(e.doc, ["objectRef", "subresource"]);
        if (sub !== undefined && sub !== "") return undefined;
        return text(at(e.doc, ["responseObject", "metadata", "name"]));
      };
    case "ka.req.binding.subjects":
      return wholeList("requestObject", "subjects");
    case "ka.req.binding.subjects.user_names":
      return (e) => subjectNames(e, "User");
    case "ka.req.binding.subjects.serviceaccount_names":
      return (e) => subjectNames(e, "ServiceAccount");
    case "ka.req.binding.subjects.serviceaccount_ns_names":
      return (e) => subjectNames(e, "ServiceAccount", true);
    case "ka.req.binding.subjects.group_names":
      return (e) => subjectNames(e, "Group");
    case "ka.req.binding.role":
      return scalar("requestObject", "roleRef", "name");
    case "ka.req.binding.subject.has_name":
      return () => "true";
    case "ka.req.configmap.obj":
      return scalar("requestObject", "data");
    case "ka.req.container.image":
      return (e) => {
        const v = strictTexts(containerValues(e, "containers", 0, ["image"]));
        return v === BROKEN || v === undefined ? undefined : v[0];
      };
    case "ka.req.container.image.repository":
      return (e) => {
        const v = strictTexts(containerValues(e, "containers", 0, ["image"]));
        return v === BROKEN || v === undefined ? undefined : repository(v[0]!);
      };
    case "ka.req.container.privileged":
      return (e) => {
        const v = containerValues(e, "containers", undefined, ["securityContext", "privileged"]);
        if (!v) return undefined;
        return v.some((x) => x === true) ? "true" : "false";
      };
    case "ka.req.pod.host_ipc":
      return scalar("requestObject", "spec", "hostIPC");
    case "ka.req.pod.host_network":
    case "ka.req.container.host_network":
      return scalar("requestObject", "spec", "hostNetwork");
    case "ka.req.pod.host_pid":
      return scalar("requestObject", "spec", "hostPID");
    case "ka.req.pod.run_as_user":
      return scalar("requestObject", "spec", "securityContext", "runAsUser");
    case "ka.req.pod.run_as_group":
      return scalar("requestObject", "spec", "securityContext", "runAsGroup");
    case "ka.req.pod.fs_group":
      return scalar("requestObject", "spec", "securityContext", "fsGroup");
    case "ka.req.pod.supplemental_groups":
      return wholeList("requestObject", "spec", "securityContext", "supplementalGroups");
    case "ka.req.pod.volumes.hostpath":
    case "ka.req.pod.volumes.flexvolume_driver": {
      const index = parseIndex(arg);
      const keys = field.endsWith("hostpath") ? ["hostPath", "path"] : ["flexVolume", "driver"];
      return (e) => listValue(presentTexts(gather(e.doc, ["requestObject", "spec", "volumes", ...keys], index)), index !== undefined);
    }
    case "ka.req.pod.volumes.volume_type": {
      const index = parseIndex(arg);
      return (e) => {
        const vols = gather(e.doc, ["requestObject", "spec", "volumes", ""], index);
        if (!vols) return undefined;
        const out: string[] = [];
        for (const v of vols) {
          if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
          for (const k of Object.keys(v)) if (k !== "name") out.push(k);
        }
        return listValue(out, index !== undefined);
      };
    }
    case "ka.req.volume.hostpath": {
      if (arg === undefined) return undefined;
      const prefix = arg.endsWith("*") ? arg.slice(0, -1) : undefined;
      return (e) => {
        const paths = presentTexts(gather(e.doc, ["requestObject", "spec", "volumes", "hostPath", "path"], undefined));
        if (!paths) return undefined;
        return paths.some((p) => (prefix !== undefined ? p.startsWith(prefix) : p === arg)) ? "true" : "false";
      };
    }
    case "ka.req.role.rules":
      return wholeList("requestObject", "rules");
    case "ka.req.role.rules.apiGroups":
    case "ka.req.role.rules.nonResourceURLs":
    case "ka.req.role.rules.verbs":
    case "ka.req.role.rules.resources":
      return roleRules(field.slice("ka.req.role.rules.".length), arg);
    case "ka.req.service.type":
      return scalar("requestObject", "spec", "type");
    case "ka.req.service.ports": {
      // the plugin's walk meets no array before the last key, so the index never applies and
      // the value is the ports list as one JSON text
      const index = parseIndex(arg);
      return (e) => listValue(presentTexts(gather(e.doc, ["requestObject", "spec", "ports"], index)), index !== undefined);
    }
    case "ka.resp.name":
      return scalar("responseObject", "metadata", "name");
    case "ka.response.code":
      return scalar("responseStatus", "code");
    case "ka.response.reason":
      return scalar("responseStatus", "reason");
    case "ka.useragent":
      return scalar("userAgent");
    case "ka.sourceips":
      // the plugin reads requestObject.rules[].sourceIPs (its rules-field reader), not sourceIPs
      return roleRules("sourceIPs", arg);
    case "json.value":
    case "jevt.value": {
      if (arg === undefined) return undefined;
      const tokens = pointerTokens(arg);
      return (e) => text(at(e.doc, tokens));
    }
    case "json.obj":
    case "jevt.obj":
      return (e) => JSON.stringify(e.doc, null, 2);
    case "json.rawtime":
    case "jevt.rawtime":
      return (e) => e.rawtime;
    default:
      return undefined;
  }
}

/**
 * Renders docs/fields.md from the field registries, so the published list cannot drift from
 * the code (test/unit/detector/docs.test.ts compares them). Regenerate with:
 *   node --import tsx src/detector/fields/docs.ts > docs/fields.md
 */
import { pathToFileURL } from "node:url";
import type { FieldInfo } from "../event.js";
import { ALERT_FIELD_LIST } from "../sources/alert.js";
import { JSON_FIELD_LIST } from "../sources/json.js";
import { K8S_AUDIT_FIELD_LIST } from "./k8s-audit.js";
import { SYSCALL_FIELD_LIST } from "./syscall.js";

function argForm(f: FieldInfo): string {
  switch (f.arg) {
    case "required":
      return f.dottedArg ? `\`${f.name}[X]\` or \`${f.name}.X\`` : `\`${f.name}[X]\``;
    case "optional":
      return `\`${f.name}\` or \`${f.name}[X]\``;
    case "index":
      return `\`${f.name}[N]\`${f.ancestors ? `, or \`${f.name}\` for any ancestor` : ""}`;
    default:
      return `\`${f.name}\``;
  }
}

function table(fields: readonly FieldInfo[]): string {
  const rows = fields.map((f) => `| ${argForm(f)} | ${f.type}${f.isList ? " (list)" : ""} | ${f.description.replace(/\|/g, "\\|")} |`);
  return ["| field | type | meaning |", "|---|---|---|", ...rows].join("\n");
}

export function renderFieldsMarkdown(): string {
  return `# Fields

Every field a condition or an output may name, per event source, with its type. Types decide
which operators apply (checked when rules load, with Falco's table):

| type | operators |
|---|---|
| string | \`= == != < <= > >= contains icontains startswith endswith glob iglob regex pmatch in intersects exists\` |
| int, uint, port, abstime, reltime | \`= == != < <= > >= in intersects exists\` |
| bool | \`= == != in intersects exists\` (values \`true\` / \`false\`) |
| ipaddr, ipnet | \`= == != in intersects exists\`; an \`ipnet\` field, or a value with \`/\`, compares by network membership |
| bytes | \`= == != contains startswith endswith in intersects bcontains bstartswith exists\` |
| any list field | \`in intersects exists\` |

A field that cannot be extracted from an event makes every comparison on it false (also
\`!=\`); \`exists\` is true only when it can be extracted.

This file is generated from the registries in \`src/detector/\`; do not edit it by hand.

## syscall

System-call events from the sensor (or replayed, see [replay-format.md](replay-format.md)).
The \`container.*\` and \`k8s.*\` fields are built in (rules requiring the \`container\`
plugin 0.4.0 or older load).

\`container.id\` comes from the process's cgroup path, at once and for any engine. Every
other \`container.*\` field comes from the container engine that knows the container, asked
once per container in the background (\`detector.container_engines\`, see
[detector.md](detector.md#container-metadata)): Docker and Podman (its Docker-compatible
socket) through the Docker Engine API, containerd's CRI plugin and CRI-O through the CRI
API (engine \`cri\`); each field below names the engines that give it. containerd's own API
(containers made outside Kubernetes, e.g. by nerdctl) is not asked yet: such containers have
their id and \`<NA>\` beyond it. Until the lookup of a new container has completed (usually
a few milliseconds after its first event) its fields are \`<NA>\`. The \`k8s.pod.*\` /
\`k8s.ns.name\` fields are answered by the CRI pod sandbox first and else by the API server
(\`detector.kubernetes\`). The \`k8smeta.*\` fields
and the other legacy \`k8s.*\` names (\`k8s.deployment.*\`, \`k8s.rs.*\`, \`k8s.rc.*\`,
\`k8s.svc.*\`, \`k8s.ns.uid\`, \`k8s.ns.labels\`, ...) come from the API server only (see
[detector.md](detector.md#kubernetes-metadata)); they are \`<NA>\` for a process outside a
pod of this node.

${table(SYSCALL_FIELD_LIST)}

## k8s_audit

Kubernetes audit events (audit.k8s.io/v1 \`Event\`) an API server posts to the audit endpoint
(\`detector.k8s_audit\`, see [detector.md](detector.md#kubernetes-audit-events-k8s_audit)).
The \`ka.*\` fields are those of Falco's k8saudit plugin 0.18.0 and the \`json.*\` /
\`jevt.*\` fields those of its json plugin 0.7.4, so rules requiring \`k8saudit\` up to 0.18.0
and \`json\` up to 0.7.4 load. Every value is text, as the plugins give it: a JSON string as
itself, a number, boolean, object or array as its compact JSON (\`ka.response.code\` is
\`201\`, \`ka.req.pod.host_network\` is \`true\`). A list field with an index
(\`ka.req.pod.containers.image[0]\`) is one value (several, for a role's rule, joined with
\`,\`). A value the event does not have, or an empty list, is \`<NA>\`. Where the plugin
reads something other than what it documents, Peregrine does what the plugin's code does, so
rules match as they do in Falco: \`ka.sourceips\` reads the \`sourceIPs\` of the request
object's rules (not the event's \`sourceIPs\`), \`eff_run_as_user\` / \`eff_run_as_group\` read
\`runAsUser\` / \`runAsGroup\` right under the container and the pod spec (not in their
\`securityContext\`, so a real pod gives 0), and \`ka.req.service.ports\` is the whole ports
list as one JSON value, with or without an index.

${table(K8S_AUDIT_FIELD_LIST)}

## alert

Fields over a received alert, for the router's per-output filters. \`alert.priority\`
compares by severity: \`alert.priority >= warning\` holds for Warning, Error, Critical, Alert
and Emergency.

${table(ALERT_FIELD_LIST)}

## json

Any JSON document; pointers follow RFC 6901 (\`~1\` for \`/\`, \`~0\` for \`~\`).

${table(JSON_FIELD_LIST)}
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(renderFieldsMarkdown());
}

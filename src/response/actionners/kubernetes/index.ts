import type { Actionner } from "../../actionner.js";
import { deleteResource } from "./delete.js";
import { cordon, drain } from "./node.js";
import { annotation, download, exec, label, log, networkpolicy, script, terminate } from "./pod.js";

export { useKubernetesClient } from "./common.js";
export { protectFromDrain } from "./node.js";

/** The `kubernetes:*` actionners (Falco Talon's names and parameters). */
export const kubernetesActionners: Actionner[] = [terminate, label, annotation, networkpolicy, exec, script, log, deleteResource, cordon, drain, download];

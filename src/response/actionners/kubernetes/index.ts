import type { Actionner } from "../../actionner.js";

/** The `kubernetes:*` actionners (Falco Talon's names and parameters). */
export const kubernetesActionners: Actionner[] = [];

import type { Actionner } from "../../actionner.js";

/** The `aws:*` actionners (Falco Talon's names and parameters). */
export const awsActionners: Actionner[] = [];

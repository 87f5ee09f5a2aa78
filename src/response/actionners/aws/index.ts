import type { Actionner } from "../../actionner.js";
import { lambdaActionner } from "./lambda.js";

export { useAwsConfig, type AwsConfig } from "./lambda.js";

/** The `aws:*` actionners (Falco Talon's names and parameters). */
export const awsActionners: Actionner[] = [lambdaActionner];

/** Every actionner by Talon's name: Kubernetes, AWS, and the host's own (process, docker). */
import type { Actionner } from "../actionner.js";
import { awsActionners } from "./aws/index.js";
import { dockerActionners } from "./docker/index.js";
import { kubernetesActionners } from "./kubernetes/index.js";
import { processActionners } from "./process/index.js";

export function actionnerRegistry(extra: readonly Actionner[] = []): Map<string, Actionner> {
  const out = new Map<string, Actionner>();
  for (const a of [...kubernetesActionners, ...awsActionners, ...processActionners, ...dockerActionners, ...extra]) out.set(a.name, a);
  return out;
}

/** Talon's output targets for the artifacts of an action (written by src/response/targets.ts). */
export const OUTPUT_TARGETS = ["aws:s3", "minio:s3", "local:file"] as const;

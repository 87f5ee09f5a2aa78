import type { OutputDefinition } from "../src/delivery/output.js";
import { stdoutOutput } from "./stdout/index.js";
import { fileOutput } from "./file/index.js";
import { webhookOutput } from "./webhook/index.js";
import { slackOutput } from "./slack/index.js";
import { s3Output } from "./s3/index.js";
import { lokiOutput } from "./loki/index.js";
import { kafkaOutput } from "./kafka/index.js";
import { alertmanagerOutput } from "./alertmanager/index.js";
import { peregrineOutput } from "./peregrine/index.js";

/** Every output type, by its `type:` name. Adding an output is one line here. */
export const OUTPUT_TYPES: Record<string, OutputDefinition> = {
  stdout: stdoutOutput as unknown as OutputDefinition,
  file: fileOutput as unknown as OutputDefinition,
  webhook: webhookOutput as unknown as OutputDefinition,
  slack: slackOutput as unknown as OutputDefinition,
  s3: s3Output as unknown as OutputDefinition,
  loki: lokiOutput as unknown as OutputDefinition,
  kafka: kafkaOutput as unknown as OutputDefinition,
  alertmanager: alertmanagerOutput as unknown as OutputDefinition,
  peregrine: peregrineOutput as unknown as OutputDefinition,
};

import type { OutputDefinition } from "../src/delivery/output.js";
import { stdoutOutput } from "./stdout/index.js";
import { fileOutput } from "./file/index.js";
import { webhookOutput } from "./webhook/index.js";
import { slackOutput } from "./slack/index.js";
import { s3Output } from "./s3/index.js";
import { sqsOutput } from "./sqs/index.js";
import { lokiOutput } from "./loki/index.js";
import { kafkaOutput } from "./kafka/index.js";
import { alertmanagerOutput } from "./alertmanager/index.js";
import { peregrineOutput } from "./peregrine/index.js";
import { teamsOutput } from "./teams/index.js";
import { discordOutput } from "./discord/index.js";
import { mattermostOutput } from "./mattermost/index.js";
import { googlechatOutput } from "./googlechat/index.js";
import { rocketchatOutput } from "./rocketchat/index.js";
import { telegramOutput } from "./telegram/index.js";
import { webexOutput } from "./webex/index.js";
import { pagerdutyOutput } from "./pagerduty/index.js";
import { cloudeventsOutput } from "./cloudevents/index.js";
import { opsgenieOutput } from "./opsgenie/index.js";
import { datadogOutput } from "./datadog/index.js";
import { splunkOutput } from "./splunk/index.js";
import { redisOutput } from "./redis/index.js";
import { natsOutput, jetstreamOutput } from "./nats/index.js";

/** Every output type, by its `type:` name. Adding an output is one line here. */
export const OUTPUT_TYPES: Record<string, OutputDefinition> = {
  stdout: stdoutOutput,
  file: fileOutput,
  webhook: webhookOutput,
  slack: slackOutput,
  s3: s3Output,
  sqs: sqsOutput,
  loki: lokiOutput,
  kafka: kafkaOutput,
  alertmanager: alertmanagerOutput,
  peregrine: peregrineOutput,
  teams: teamsOutput,
  discord: discordOutput,
  mattermost: mattermostOutput,
  googlechat: googlechatOutput,
  rocketchat: rocketchatOutput,
  telegram: telegramOutput,
  webex: webexOutput,
  pagerduty: pagerdutyOutput,
  cloudevents: cloudeventsOutput,
  opsgenie: opsgenieOutput,
  datadog: datadogOutput,
  splunk: splunkOutput,
  redis: redisOutput,
  nats: natsOutput,
  jetstream: jetstreamOutput,
};

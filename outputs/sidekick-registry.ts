/**
 * The Falcosidekick translator of each output type that has one (`outputs/<type>/sidekick.ts`),
 * by the output's `type:` name, for `peregrine config import-sidekick`. Kept apart from
 * registry.ts so that the importer loads no output implementation; a test keeps every key a
 * registered output type. The order is the order of the translated outputs.
 */
import type { SidekickTranslator } from "./sidekick-context.js";
import { slackSidekick } from "./slack/sidekick.js";
import { lokiSidekick } from "./loki/sidekick.js";
import { kafkaSidekick } from "./kafka/sidekick.js";
import { s3Sidekick } from "./s3/sidekick.js";
import { sqsSidekick } from "./sqs/sidekick.js";
import { webhookSidekick } from "./webhook/sidekick.js";
import { alertmanagerSidekick } from "./alertmanager/sidekick.js";
import { teamsSidekick } from "./teams/sidekick.js";
import { discordSidekick } from "./discord/sidekick.js";
import { mattermostSidekick } from "./mattermost/sidekick.js";
import { googlechatSidekick } from "./googlechat/sidekick.js";
import { rocketchatSidekick } from "./rocketchat/sidekick.js";
import { webexSidekick } from "./webex/sidekick.js";
import { telegramSidekick } from "./telegram/sidekick.js";
import { cloudeventsSidekick } from "./cloudevents/sidekick.js";
import { opsgenieSidekick } from "./opsgenie/sidekick.js";
import { datadogSidekick } from "./datadog/sidekick.js";
import { splunkSidekick } from "./splunk/sidekick.js";
import { pagerdutySidekick } from "./pagerduty/sidekick.js";
import { redisSidekick } from "./redis/sidekick.js";
import { natsSidekick } from "./nats/sidekick.js";

/** Adding a translator is one line here. */
export const SIDEKICK_TRANSLATORS: Readonly<Record<string, SidekickTranslator>> = {
  slack: slackSidekick,
  loki: lokiSidekick,
  kafka: kafkaSidekick,
  s3: s3Sidekick,
  sqs: sqsSidekick,
  webhook: webhookSidekick,
  alertmanager: alertmanagerSidekick,
  teams: teamsSidekick,
  discord: discordSidekick,
  mattermost: mattermostSidekick,
  googlechat: googlechatSidekick,
  rocketchat: rocketchatSidekick,
  webex: webexSidekick,
  telegram: telegramSidekick,
  cloudevents: cloudeventsSidekick,
  opsgenie: opsgenieSidekick,
  datadog: datadogSidekick,
  splunk: splunkSidekick,
  pagerduty: pagerdutySidekick,
  redis: redisSidekick,
  nats: natsSidekick,
};

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { renderImport, translateSidekick } from "../../src/cli/import-sidekick.js";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/sidekick/config.yaml");
const ENV = { SLACK_WEBHOOKURL: "https://hooks.slack.com/services/T0/B0/secret", WEBHOOK_ADDRESS: "http://127.0.0.1:8080/falco", RUN_ID: "r1" };

function fixture(): Record<string, unknown> {
  return parse(readFileSync(FIXTURE, "utf8")) as Record<string, unknown>;
}

describe("config import-sidekick", () => {
  it("translates the five outputs, enrichment and environment variables", () => {
    const { config, notes } = translateSidekick(fixture(), ENV);
    expect(config.enrich).toEqual({
      custom_fields: { cluster: "eu-west-1", run: "${RUN_ID}" },
      custom_tags: ["prod", "migrated"],
      templated_fields: { team: '{{ or (index . "k8s.ns.labels.team") "unknown" }}' },
    });
    expect(config.listen).toBeUndefined(); // 2801 is Peregrine's default too
    expect(config.outputs).toEqual([
      // A secret from the environment stays a reference: it is never printed.
      { name: "slack", type: "slack", minimum_priority: "warning", webhook_url: "${SLACK_WEBHOOKURL}", format: "fields" },
      {
        name: "loki",
        type: "loki",
        minimum_priority: "notice",
        url: "http://127.0.0.1:3100/insert",
        format: "text",
        label_fields: ["run", "team", "cluster"],
        headers: { "X-Source": "falcosidekick-migration" },
      },
      { name: "kafka", type: "kafka", minimum_priority: "debug", brokers: ["127.0.0.1:9092"], topic: "falco.migration" },
      {
        name: "webhook",
        type: "webhook",
        url: "http://127.0.0.1:8080/falco",
        headers: { Authorization: "Bearer hook-token" },
        tls: { insecure_skip_verify: true },
      },
      {
        name: "alertmanager",
        type: "alertmanager",
        minimum_priority: "error",
        url: "http://127.0.0.1:9093",
        expires_after: "600s",
        labels: { origin: "sidekick" },
        annotations: { runbook: "https://runbooks.example/falco" },
        severity_map: { error: "critical" },
      },
    ]);
    const bySetting = Object.fromEntries(notes.map((n) => [n.setting, n.reason]));
    expect(Object.keys(bySetting).sort()).toEqual(["debug", "gotify", "slack.messageformat", "templatedfields.owner"]);
    expect(bySetting["templatedfields.owner"]).toMatch(/unknown helper "printf"/);
    expect(bySetting.gotify).toMatch(/no gotify output/);
  });

  it("the printed YAML passes config check, with the untranslated settings as comments", () => {
    const { config, notes } = translateSidekick(fixture(), ENV);
    const yaml = renderImport({ config, notes }, "config.yaml");
    expect(yaml).toMatch(/# Not translated:\n(# {3}.*\n)*# {3}debug: /);
    const dir = mkdtempSync(join(tmpdir(), "peregrine-import-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, yaml);
    const result = loadConfig(file, ENV);
    expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(result.config!.outputs.map((o) => o.type)).toEqual(["slack", "loki", "kafka", "webhook", "alertmanager"]);
    expect(result.config!.outputs[0]!.options.webhook_url).toBe(ENV.SLACK_WEBHOOKURL);
  });

  it("reads Falcosidekick's environment-only settings and its k:v,k:v map format", () => {
    const { config, notes } = translateSidekick(
      {},
      {
        LISTENPORT: "2802",
        CUSTOMFIELDS: "env:prod,owner:%OWNER",
        CUSTOMTAGS: "a, b",
        ALERTMANAGER_HOSTPORT: "http://am-1:9093,http://am-2:9093",
        ALERTMANAGER_EXTRALABELS: "team:sec",
        ALERTMANAGER_ENDPOINT: "/api/v1/alerts",
        KAFKA_HOSTPORT: "kafka-1,kafka-2:9093",
        KAFKA_TOPIC: "falco",
        KAFKA_SASL: "SCRAM_SHA512",
        KAFKA_USERNAME: "u",
        KAFKA_PASSWORD: "p",
        KAFKA_COMPRESSION: "LZ4",
        LOKI_HOSTPORT: "https://loki:3100",
        LOKI_USER: "1234",
        LOKI_APIKEY: "k",
        LOKI_MUTUALTLS: "true",
        TEAMS_WEBHOOKURL: "https://teams.example/hook",
      },
    );
    expect(config.listen).toEqual({ port: 2802 });
    expect(config.enrich).toEqual({ custom_fields: { env: "prod", owner: "${OWNER}" }, custom_tags: ["a", "b"] });
    const outputs = config.outputs as Record<string, unknown>[];
    expect(outputs.map((o) => o.name)).toEqual(["loki", "kafka", "alertmanager", "alertmanager-2", "teams"]);
    expect(outputs[4]).toEqual({ name: "teams", type: "teams", webhook_url: "${TEAMS_WEBHOOKURL}", format: "all" });
    expect(outputs[0]).toMatchObject({
      url: "https://loki:3100",
      basic_auth: { username: "1234", password: "${LOKI_APIKEY}" },
      tls: { cert_file: "/etc/certs/client.crt", key_file: "/etc/certs/client.key", ca_file: "/etc/certs/ca.crt" },
    });
    expect(outputs[1]).toMatchObject({ brokers: ["kafka-1:9092", "kafka-2:9093"], sasl: { mechanism: "scram-sha-512", username: "u", password: "${KAFKA_PASSWORD}" } });
    expect(outputs[1]!.compression).toBeUndefined();
    expect(outputs[3]).toMatchObject({ url: "http://am-2:9093", labels: { team: "sec" } });
    const settings = notes.map((n) => n.setting);
    expect(settings).toEqual(expect.arrayContaining(["kafka.compression", "kafka.requiredacks", "alertmanager.endpoint"]));
  });

  it("warns that a credential header read from the environment is written in clear", () => {
    const env = { WEBHOOK_ADDRESS: "http://127.0.0.1:8080/falco", WEBHOOK_CUSTOMHEADERS: "Authorization:Bearer S3CRET,X-Team:sec" };
    const result = translateSidekick({ webhook: { minimumpriority: "" } }, env);
    expect(result.config.outputs).toEqual([expect.objectContaining({ headers: { Authorization: "Bearer S3CRET", "X-Team": "sec" } })]);
    expect(result.notes).toEqual([]);
    expect(result.warnings).toEqual([expect.stringMatching(/^WEBHOOK_CUSTOMHEADERS: the Authorization header is written in clear; replace the value with a \$\{VAR\} reference/)]);
    expect(renderImport(result, "config.yaml")).toContain("# Warning: WEBHOOK_CUSTOMHEADERS: the Authorization header is written in clear");
    // Headers in the file, or without a credential, are the user's own text: no warning.
    expect(translateSidekick({ webhook: { address: "http://x/", customheaders: { Authorization: "Bearer y" } } }, {}).warnings).toEqual([]);
    expect(translateSidekick({ webhook: {} }, { ...env, WEBHOOK_CUSTOMHEADERS: "X-Team:sec" }).warnings).toEqual([]);
  });

  it("with no translatable output, falls back to stdout and says so", () => {
    const { config, notes } = translateSidekick({ smtp: { hostport: "mail:25" }, bogus: 1 }, {});
    expect(config.outputs).toEqual([{ name: "stdout", type: "stdout" }]);
    expect(notes.map((n) => n.setting).sort()).toEqual(["bogus", "outputs", "smtp"]);
  });
});

describe("config import-sidekick: AWS S3", () => {
  it("maps bucket, prefix, region, endpoint and credentials; env secrets stay references; passes config check", () => {
    const { config, notes } = translateSidekick(
      { aws: { region: "eu-west-1", rolearn: "arn:aws:iam::1:role/x", s3: { bucket: "falco-archive", endpoint: "http://127.0.0.1:9000", minimumpriority: "notice" } } },
      { AWS_ACCESSKEYID: "AKIAEXAMPLE", AWS_SECRETACCESSKEY: "s3cr3t" },
    );
    expect(config.outputs).toEqual([
      {
        name: "s3",
        type: "s3",
        minimum_priority: "notice",
        bucket: "falco-archive",
        prefix: "falco",
        region: "eu-west-1",
        endpoint: "http://127.0.0.1:9000",
        force_path_style: true,
        access_key_id: "${AWS_ACCESSKEYID}",
        secret_access_key: "${AWS_SECRETACCESSKEY}",
      },
    ]);
    expect(notes.map((n) => n.setting)).toEqual(["aws.rolearn", "aws.s3 (object layout)"]);
    const dir = mkdtempSync(join(tmpdir(), "peregrine-import-s3-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, renderImport({ config, notes }, "config.yaml"));
    const result = loadConfig(file, { AWS_ACCESSKEYID: "AKIAEXAMPLE", AWS_SECRETACCESSKEY: "s3cr3t" });
    expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(result.config!.outputs[0]!.options).toMatchObject({ access_key_id: "AKIAEXAMPLE", secret_access_key: "s3cr3t" });
  });

  it("translates every chat output, CloudEvents, Opsgenie, Datadog, Splunk and PagerDuty from Sidekick's keys and environment, and the result passes config check", () => {
    const env = { TELEGRAM_TOKEN: "42:secret", DISCORD_WEBHOOKURL: "https://discord.com/api/webhooks/1/secret" };
    const { config, notes } = translateSidekick(
      {
        teams: { webhookurl: "https://example.webhook.office.com/x", activityimage: "https://img.example/a.png", outputformat: "facts", minimumpriority: "error" },
        discord: { icon: "https://img.example/d.png" },
        mattermost: { webhookurl: "https://mm.example/hooks/x", username: "falco", icon: ":eagle:", outputformat: "text", messageformat: "{{ .Rule }}", checkcert: false },
        googlechat: { webhookurl: "https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t", outputformat: "all" },
        rocketchat: { webhookurl: "https://rc.example/hooks/a/b", username: "falco", icon: "https://img.example/r.png", mutualtls: false },
        telegram: { chatid: "-100123", messagethreadid: "7" },
        webex: { webhookurl: "https://webexapis.com/v1/webhooks/incoming/abc", minimumpriority: "warning" },
        pagerduty: { routingkey: "R0UTINGKEY0123456789ABCDEFGHIJKL", region: "eu", minimumpriority: "critical" },
        splunk: { hostport: "https://splunk.example:8088/services/collector/event", token: "hec" },
        datadog: { apikey: "dd-key", host: "https://api.datadoghq.eu/" },
        opsgenie: { apikey: "og-key", region: "eu", checkcert: false },
        cloudevents: { address: "http://broker.example/default", extension: { cluster: "prod", "Bad-Name": "x" } },
      },
      env,
    );
    const outputs = config.outputs as Record<string, unknown>[];
    expect(outputs.map((o) => o.type)).toEqual(["teams", "discord", "mattermost", "googlechat", "rocketchat", "webex", "telegram", "cloudevents", "opsgenie", "datadog", "splunk", "pagerduty"]);
    expect(outputs[7]).toEqual({ name: "cloudevents", type: "cloudevents", url: "http://broker.example/default", extensions: { cluster: "prod" } });
    expect(outputs[8]).toEqual({ name: "opsgenie", type: "opsgenie", api_key: "og-key", region: "eu", tls: { insecure_skip_verify: true } });
    expect(outputs[9]).toEqual({ name: "datadog", type: "datadog", api_key: "dd-key", site: "https://api.datadoghq.eu" });
    expect(outputs[10]).toEqual({ name: "splunk", type: "splunk", url: "https://splunk.example:8088", token: "hec" });
    expect(outputs[11]).toEqual({ name: "pagerduty", type: "pagerduty", minimum_priority: "critical", routing_key: "R0UTINGKEY0123456789ABCDEFGHIJKL", region: "eu" });
    expect(outputs[0]).toEqual({ name: "teams", type: "teams", minimum_priority: "error", webhook_url: "https://example.webhook.office.com/x", format: "fields", activity_image: "https://img.example/a.png" });
    expect(outputs[1]).toEqual({ name: "discord", type: "discord", webhook_url: "${DISCORD_WEBHOOKURL}", icon: "https://img.example/d.png" });
    expect(outputs[2]).toMatchObject({ format: "text", username: "falco", icon: ":eagle:", tls: { insecure_skip_verify: true } });
    expect(outputs[4]).toMatchObject({ username: "falco", icon: "https://img.example/r.png" });
    expect(outputs[6]).toEqual({ name: "telegram", type: "telegram", token: "${TELEGRAM_TOKEN}", chat_id: "-100123" });
    const settings = notes.map((n) => n.setting);
    expect(settings).toEqual(expect.arrayContaining(["mattermost.messageformat", "telegram.messagethreadid", "cloudevents.extension.Bad-Name"]));
    expect(settings.filter((s) => /^(teams|discord|googlechat|rocketchat|webex)$/.test(s))).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), "peregrine-import-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, renderImport({ config, notes }, "config.yaml"));
    const result = loadConfig(file, env);
    expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(result.config!.outputs.map((o) => o.type)).toEqual(["teams", "discord", "mattermost", "googlechat", "rocketchat", "webex", "telegram", "cloudevents", "opsgenie", "datadog", "splunk", "pagerduty"]);
  });
});

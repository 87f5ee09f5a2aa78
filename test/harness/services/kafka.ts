/**
 * Apache Kafka, single node in KRaft mode. Its jars come from Maven Central through
 * test/harness/kafka/pom.xml (`mvn dependency:copy-dependencies`), cached. Listeners:
 * PLAINTEXT 9092, SASL_SSL 9094 (PLAIN + SCRAM), SSL with client certificates 9095.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { certs, ensureCerts } from "../certs.js";
import { KAFKA } from "../endpoints.js";
import { cachePath, HARNESS_DIR } from "../paths.js";
import { commandExists, HarnessError, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

const POM = join(HARNESS_DIR, "kafka", "pom.xml");
const HOME = cachePath("kafka");
const LIBS = join(HOME, "libs");
const DATA = join(HOME, "data");
const CONFIG = join(HOME, "server.properties");
const MAIN_CLASS = "kafka.Kafka";

function kafkaVersion(): string {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM, "utf8"));
  if (!m) throw new HarnessError(`${POM}: no <kafka.version>`);
  return m[1]!;
}

function serverProperties(): string {
  const jaasUser = `user_${KAFKA.username}="${KAFKA.password}"`;
  return [
    "# Written by the test harness on each start; edit test/harness/services/kafka.ts instead.",
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${KAFKA.controllerPort}`,
    `listeners=PLAINTEXT://${KAFKA.brokers[0]},SASL_SSL://${KAFKA.saslSslBrokers[0]},SSL://${KAFKA.mtlsBrokers[0]},CONTROLLER://127.0.0.1:${KAFKA.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${KAFKA.brokers[0]},SASL_SSL://${KAFKA.saslSslBrokers[0]},SSL://${KAFKA.mtlsBrokers[0]}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
    `log.dirs=${join(DATA, "logs")}`,
    "num.partitions=3",
    "auto.create.topics.enable=true",
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    // Small segments keep the cache small; the harness's topics are throw-away.
    "log.retention.hours=24",
    "log.segment.bytes=67108864",
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${jaasUser};`,
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "ssl.keystore.type=PEM",
    `ssl.keystore.location=${certs.serverKeystore}`,
    "ssl.truststore.type=PEM",
    `ssl.truststore.location=${certs.caCert}`,
    "listener.name.ssl.ssl.client.auth=required",
    "",
  ].join("\n");
}

function javaArgs(mainClass: string, ...args: string[]): string[] {
  return [
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-Dorg.slf4j.simpleLogger.log.kafka.server.BrokerServer=info",
    "-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info",
    "-cp",
    `${LIBS}/*`,
    mainClass,
    ...args,
  ];
}

async function provision(): Promise<void> {
  if (!commandExists("java")) throw new HarnessError("kafka needs a Java runtime (17 or newer) on PATH: apt-get install openjdk-17-jre-headless");
  const version = kafkaVersion();
  const stamp = join(LIBS, `.resolved-${version}`);
  if (!existsSync(stamp)) {
    if (!commandExists("mvn")) throw new HarnessError("kafka needs Maven to resolve its jars: apt-get install maven");
    note(`kafka: resolving Apache Kafka ${version} jars with Maven (first run)`);
    mkdirSync(LIBS, { recursive: true });
    for (const f of readdirSync(LIBS)) if (f.endsWith(".jar")) run("rm", ["-f", join(LIBS, f)]);
    run("mvn", ["-q", "-B", "-f", POM, "dependency:copy-dependencies", `-DoutputDirectory=${LIBS}`, "-DincludeScope=runtime"]);
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  }
  ensureCerts();
  writeFileSync(CONFIG, serverProperties());
  if (!existsSync(join(DATA, "logs", "meta.properties"))) {
    note("kafka: formatting the KRaft storage with the SCRAM user");
    mkdirSync(DATA, { recursive: true });
    const clusterId = randomBytes(16).toString("base64url");
    const scram = (mech: string) => `${mech}=[name=${KAFKA.username},password=${KAFKA.password}]`;
    run("java", javaArgs("kafka.tools.StorageTool", "format", "-t", clusterId, "-c", CONFIG, "--ignore-formatted",
      "--add-scram", scram("SCRAM-SHA-256"), "--add-scram", scram("SCRAM-SHA-512")));
  }
}

function spawn(): void {
  startDaemon({ name: "kafka", command: "java", args: javaArgs(MAIN_CLASS, CONFIG), cwd: HOME, marker: MAIN_CLASS });
}

async function ready(): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "harness-ready",
    brokers: [...KAFKA.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const kafka: ServiceDef = {
  name: "kafka",
  summary: "Apache Kafka (KRaft) on 127.0.0.1:9092, SASL_SSL on :9094, mTLS on :9095",
  provision,
  spawn,
  ready,
  readyTimeoutMs: 120_000,
  ports: [9092, 9094, 9095, KAFKA.controllerPort],
};

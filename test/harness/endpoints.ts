/**
 * Where the harness's services listen and the credentials they accept. Tests import these
 * instead of repeating ports and passwords.
 */
import { certs } from "./certs.js";

export const KAFKA = {
  /** PLAINTEXT */
  brokers: ["127.0.0.1:9092"],
  /** SASL over TLS: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 with the user below. */
  saslSslBrokers: ["127.0.0.1:9094"],
  /** TLS with client certificates required (mTLS). */
  mtlsBrokers: ["127.0.0.1:9095"],
  controllerPort: 9096,
  username: "peregrine",
  password: "peregrine-secret",
  certs,
} as const;

/**
 * A Loki-protocol log store (VictoriaLogs, which accepts Loki's push API in JSON and
 * protobuf+snappy, with X-Scope-OrgID as tenant). Base URL for the Loki output:
 * `${url}/insert` + the output's `/loki/api/v1/push`.
 */
export const LOGS = {
  url: "http://127.0.0.1:3100",
  /** The Loki output's `url` (the push path is appended to it). */
  lokiUrl: "http://127.0.0.1:3100/insert",
  /** Same store behind TLS and basic auth. */
  authUrl: "https://127.0.0.1:3101",
  authLokiUrl: "https://127.0.0.1:3101/insert",
  username: "peregrine",
  password: "logs-secret",
  certs,
} as const;

export const S3 = {
  endpoint: "http://127.0.0.1:9000",
  region: "us-east-1",
  accessKeyId: "test",
  secretAccessKey: "test",
} as const;

export const ALERTMANAGER = {
  url: "http://127.0.0.1:9093",
} as const;

/** Redis: the default user has no password; `username`/`password` is an ACL user. TLS on tlsPort. */
export const REDIS = {
  port: 6379,
  tlsPort: 6380,
  address: "127.0.0.1:6379",
  tlsAddress: "127.0.0.1:6380",
  username: "peregrine",
  password: "redis-secret",
  certs,
} as const;

/** nats-server with JetStream: no credentials needed; `username`/`password` is a second user of the account. */
export const NATS = {
  port: 4222,
  monitorPort: 8222,
  url: "nats://127.0.0.1:4222",
  servers: ["127.0.0.1:4222"],
  username: "peregrine",
  password: "nats-secret",
} as const;

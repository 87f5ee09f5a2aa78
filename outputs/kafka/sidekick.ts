import type { SidekickTranslator } from "../sidekick-context.js";

const SASL: Record<string, string> = { PLAIN: "plain", SCRAM_SHA256: "scram-sha-256", SCRAM_SHA512: "scram-sha-512" };

/** Falcosidekick's `kafka` section (set by `kafka.hostport` and `kafka.topic`). */
export const kafkaSidekick: SidekickTranslator = {
  sections: ["kafka"],
  translate(ctx) {
    const hostport = ctx.str("kafka.hostport");
    const topic = ctx.str("kafka.topic");
    if (hostport === "" || topic === "") {
      if (hostport !== "" || topic !== "") ctx.note("kafka", "needs both hostport and topic; not translated");
      return [];
    }
    const o = ctx.common("kafka", "kafka", "kafka");
    o.brokers = ctx.list("kafka.hostport").map((h) => (/:\d+$/.test(h) ? h : `${h}:9092`));
    o.topic = topic;
    const clientId = ctx.str("kafka.clientid");
    if (clientId !== "") o.client_id = clientId;
    const compression = ctx.str("kafka.compression", "NONE").toUpperCase();
    if (compression === "GZIP" || compression === "SNAPPY" || compression === "NONE") {
      if (compression !== "NONE") o.compression = compression.toLowerCase();
    } else ctx.note("kafka.compression", `${compression} is not supported by Peregrine's Kafka output (gzip, snappy, none); records are sent uncompressed`);
    const acks = ctx.str("kafka.requiredacks", "NONE").toUpperCase();
    // Peregrine waits for acks=all with an idempotent producer by default: at least as safe.
    if (acks === "ONE") {
      o.acks = "leader";
      o.idempotent = false;
    } else if (acks === "NONE") ctx.note("kafka.requiredacks", "NONE is not kept: Peregrine waits for acks=all so that no alert is lost (set acks: none to trade that away)");
    const sasl = ctx.str("kafka.sasl").toUpperCase();
    if (sasl !== "") {
      const mechanism = SASL[sasl];
      if (mechanism) o.sasl = { mechanism, username: ctx.str("kafka.username"), password: ctx.secret("kafka.password") };
      else ctx.note("kafka.sasl", `unknown SASL mode "${sasl}"`);
    }
    if (ctx.bool("kafka.tls", false)) o.tls = ctx.tls("kafka") ?? {};
    ctx.leftOut("kafka", {
      async: "Peregrine always waits for the broker's acknowledgement before an alert counts as delivered",
      topiccreation: "Peregrine does not create topics; create it with the broker's tools",
    });
    const balancer = ctx.str("kafka.balancer", "round_robin");
    if (balancer !== "round_robin") ctx.note("kafka.balancer", "Peregrine keys records by rule (key: '{{rule}}'), and Kafka's default partitioner places them");
    return [o];
  },
};

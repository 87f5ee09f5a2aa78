import type { FastifyInstance } from "fastify";
import type { Router } from "../router.js";

/** Probes and scrapers: `/ping`, `/healthz` (503 until ready) and the Prometheus `/metrics`. */
export function registerHealth(app: FastifyInstance, router: Router): void {
  app.get("/ping", (_req, reply) => reply.type("text/plain").send("pong\n"));

  app.get("/healthz", (_req, reply) => {
    const health = router.health();
    return reply.code(health.ready ? 200 : 503).send(health.body);
  });

  app.get("/metrics", async (_req, reply) => {
    router.refreshGauges();
    return reply.type(router.metrics.registry.contentType).send(await router.metrics.registry.metrics());
  });
}

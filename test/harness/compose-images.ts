/**
 * The images the compose e2e test runs in place of docker-compose.yml's upstream ones (no
 * image registry answers here). Each is the Debian test base plus what the harness's own
 * service runs: Kafka's jars (the kafka service's Maven resolution) with Debian's JRE, the
 * VictoriaLogs binary (the Loki-protocol store), moto's packages from the s3 service's
 * virtualenv with Debian's Python. They are tagged by the version of what they hold plus a
 * suffix to bump when the recipe changes.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { docker } from "./image.js";
import { TESTBASE } from "./images/images.js";
import { withLock } from "./lock.js";
import { BUILD_CACHE_DIR, cachePath, HARNESS_DIR } from "./paths.js";
import { HarnessError, note } from "./proc.js";
import { MOTO_VERSION } from "./services/s3.js";
import { VICTORIALOGS_VERSION } from "./services/victorialogs.js";

/** The images test/fixtures/compose/docker-compose.test.yml names (keep the two equal). */
export const COMPOSE_TEST_IMAGES = {
  kafka: `peregrine/compose-kafka:${kafkaVersion()}-1`,
  logs: `peregrine/compose-victorialogs:${VICTORIALOGS_VERSION}-1`,
  s3: `peregrine/compose-moto:${MOTO_VERSION}-1`,
} as const;

function kafkaVersion(): string {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(HARNESS_DIR, "kafka", "pom.xml"), "utf8"));
  if (!m) throw new HarnessError("test/harness/kafka/pom.xml: no <kafka.version>");
  return m[1]!;
}

const hasImage = async (ref: string) => (await docker(["image", "inspect", ref], 30_000)).status === 0;

async function buildContext(tag: string, fill: (ctx: string) => void): Promise<void> {
  if (await hasImage(tag)) return;
  if (!(await hasImage(TESTBASE.ref))) throw new HarnessError(`${TESTBASE.ref} is not loaded: start the docker service (npm run services -- up docker)`);
  note(`compose: making ${tag}`);
  const ctx = join(BUILD_CACHE_DIR, "compose-images", tag.replace(/[/:]/g, "_"));
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  fill(ctx);
  const r = await docker(["build", "--network", "host", "-t", tag, ctx], 20 * 60_000);
  rmSync(ctx, { recursive: true, force: true });
  if (r.status !== 0) throw new HarnessError(`compose: building ${tag} failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.trim().split("\n").slice(-30).join("\n")}`);
}

/**
 * Builds the three stand-in images from the harness's artifacts. The caller provisions the
 * kafka, victorialogs and s3 services first (that is what resolves the jars, builds the
 * binary and fills the virtualenv); nothing of theirs needs to run.
 */
export async function ensureComposeTestImages(): Promise<typeof COMPOSE_TEST_IMAGES> {
  const libs = cachePath("kafka", "libs");
  const vlogs = cachePath("victorialogs", VICTORIALOGS_VERSION, "victoria-logs");
  const venvLib = cachePath("s3", "venv", "lib");
  for (const p of [libs, vlogs, venvLib]) if (!existsSync(p)) throw new HarnessError(`compose: ${p} is missing: provision the kafka, victorialogs and s3 services first`);
  await withLock("compose-images", async () => {
    await buildContext(COMPOSE_TEST_IMAGES.kafka, (ctx) => {
      mkdirSync(join(ctx, "libs"));
      for (const f of readdirSync(libs)) if (f.endsWith(".jar")) copyFileSync(join(libs, f), join(ctx, "libs", f));
      writeFileSync(
        join(ctx, "Dockerfile"),
        `FROM ${TESTBASE.ref}
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
COPY libs/ /opt/kafka/libs/
`,
      );
    });
    await buildContext(COMPOSE_TEST_IMAGES.logs, (ctx) => {
      copyFileSync(vlogs, join(ctx, "victoria-logs"));
      writeFileSync(join(ctx, "Dockerfile"), `FROM ${TESTBASE.ref}\nCOPY victoria-logs /usr/local/bin/victoria-logs\nENTRYPOINT ["/usr/local/bin/victoria-logs"]\n`);
    });
    await buildContext(COMPOSE_TEST_IMAGES.s3, (ctx) => {
      // the virtualenv's packages; its scripts name the host's paths, so Python runs the module
      const py = readdirSync(venvLib).find((d) => d.startsWith("python3"));
      if (!py) throw new HarnessError(`compose: no python3.x in ${venvLib}`);
      cpSync(join(venvLib, py, "site-packages"), join(ctx, "site-packages"), { recursive: true });
      writeFileSync(
        join(ctx, "Dockerfile"),
        `FROM ${TESTBASE.ref}
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
COPY site-packages/ /opt/moto/site-packages/
ENV PYTHONPATH=/opt/moto/site-packages
ENTRYPOINT ["python3", "-c", "import sys; from moto.server import main; sys.exit(main())"]
`,
      );
    });
  });
  return COMPOSE_TEST_IMAGES;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  (async () => {
    // what the images hold comes from these services' provisioning (cached after a first run)
    const { serviceDef } = await import("./services.js");
    for (const name of ["kafka", "victorialogs", "s3"]) await serviceDef(name).provision();
    console.log(Object.values(await ensureComposeTestImages()).join("\n"));
  })().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}

# syntax=docker/dockerfile:1
# Peregrine in one image: the router, the dashboard and the embedded eBPF detector.
#   docker build -t peregrine .
#   docker run --rm -p 2801:2801 peregrine router        # the router alone
# docker-compose.yml runs it with everything around it (see docs/deploy.md).

# The bases are build arguments; the defaults are the upstream images users pull. Where no
# registry answers, `npm run image:build` passes local ones (Debian plus a Node 20 binary).
ARG NODE_IMAGE=node:20-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

# 1. The sensor: C + libbpf CO-RE, built with Debian's clang. vmlinux.h is dumped from the
#    build host's BTF (or taken from the context when present); CO-RE relocates the object
#    for whatever kernel runs it later.
FROM ${DEBIAN_IMAGE} AS sensor
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      clang llvm make gcc libc6-dev pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY sensor/ sensor/
RUN make -C sensor -j"$(nproc)" \
 && strip sensor/build/peregrine-sensor

# 2. The TypeScript app, compiled to dist/; dev dependencies are pruned afterwards.
#    python3/make/g++ are for better-sqlite3 when no prebuilt binary fits the platform.
FROM ${NODE_IMAGE} AS app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
COPY outputs/ outputs/
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# 3. Runtime: slim Node 20 plus the sensor's shared libraries.
FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=app /app/package.json ./
COPY --from=app /app/node_modules/ node_modules/
COPY --from=app /app/dist/ dist/
COPY bin/ bin/
# The dashboard's page is read from src/ui/static at run time (no build step for it).
COPY src/ui/static/ src/ui/static/
COPY templates/ templates/
COPY rules/ rules/
COPY --from=sensor /src/sensor/build/peregrine-sensor sensor/build/peregrine-sensor
COPY deploy/docker/peregrine.yaml /etc/peregrine/peregrine.yaml
# Without -c the CLI reads ./peregrine.yaml: here that is the mounted config, so
# `peregrine router` and `docker compose exec peregrine peregrine dlq list` use its journal
# on the volume, not built-in defaults with a journal in /app/data.
# The router needs no privilege: `peregrine router` runs as the peregrine user (uid 10001),
# which owns the journal's directory. `run` and `detect` stay root for the eBPF detector
# (docs/deploy.md lists the capabilities it needs instead of --privileged).
COPY deploy/docker/entrypoint.sh /usr/local/bin/peregrine-entrypoint
RUN groupadd --gid 10001 peregrine \
 && useradd --no-create-home --uid 10001 --gid 10001 --home-dir /var/lib/peregrine --shell /usr/sbin/nologin peregrine \
 && mkdir -p /var/lib/peregrine && chown peregrine:peregrine /var/lib/peregrine \
 && chmod 0755 /usr/local/bin/peregrine-entrypoint \
 && ln -s /app/bin/peregrine.js /usr/local/bin/peregrine \
 && ln -s /etc/peregrine/peregrine.yaml /app/peregrine.yaml
VOLUME /var/lib/peregrine
EXPOSE 2801
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:2801/ping').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM so the router drains its outputs before the container stops.
ENTRYPOINT ["tini", "--", "/usr/local/bin/peregrine-entrypoint"]
CMD ["run", "-c", "/etc/peregrine/peregrine.yaml"]

#!/bin/sh
# `peregrine router` drops root before it starts (setpriv from util-linux, in every Debian
# base); other commands (run, detect) keep the privileges the eBPF detector needs.
# PEREGRINE_USER=root keeps root for the router too; started as non-root, nothing changes.
set -e
if [ "$1" = "router" ] && [ "$(id -u)" = "0" ] && [ "${PEREGRINE_USER:-peregrine}" != "root" ]; then
  exec setpriv --reuid=peregrine --regid=peregrine --init-groups \
    node /app/bin/peregrine.js "$@"
fi
exec node /app/bin/peregrine.js "$@"

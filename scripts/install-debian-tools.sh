#!/bin/sh
# Installs Debian packages that tests need, only when missing. Arguments are PATH=PACKAGE
# pairs: the package is installed when PATH does not exist, e.g.
#   scripts/install-debian-tools.sh /usr/bin/chromium=chromium /usr/bin/docker-compose=docker-compose
# Idempotent and safe to call from parallel test files: a machine that has everything makes
# no apt call, and concurrent callers serialize on one lock.
set -eu

missing=""
for pair in "$@"; do
  path=${pair%%=*}
  pkg=${pair#*=}
  [ -e "$path" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "tests need:$missing (Debian packages); install them with your package manager" >&2
  exit 2
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "tests need:$missing; run as root: apt-get install -y$missing" >&2
    exit 2
  fi
fi

install() {
  # Re-check under the lock: another caller may have installed them meanwhile.
  still=""
  for pair in "$@"; do
    path=${pair%%=*}
    pkg=${pair#*=}
    [ -e "$path" ] || still="$still $pkg"
  done
  [ -z "$still" ] && return 0
  echo "installing test dependencies:$still" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  # shellcheck disable=SC2086
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $still >/dev/null
}

LOCK=/tmp/peregrine-apt-install.lock
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK"
  flock 9
fi
install "$@"

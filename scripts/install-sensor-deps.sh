#!/bin/sh
# Installs what building the eBPF sensor needs (Debian/Ubuntu), only when missing.
# Idempotent: a machine that already has everything makes no apt call at all.
set -eu

missing=""
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v llvm-strip >/dev/null 2>&1 || missing="$missing llvm"
command -v bpftool >/dev/null 2>&1 || missing="$missing bpftool"
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
[ -f /usr/include/bpf/libbpf.h ] || missing="$missing libbpf-dev"
[ -f /usr/include/libelf.h ] || missing="$missing libelf-dev"
[ -f /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
# the C library's static archive: some test programs are static (they run in a bare chroot)
if ! command -v cc >/dev/null 2>&1 || [ "$(cc -print-file-name=libc.a)" = "libc.a" ]; then
  missing="$missing libc6-dev"
fi

if [ -z "$missing" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "sensor build needs:$missing — install them with your package manager" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "sensor build needs:$missing — run as root: apt-get install -y$missing" >&2
    exit 2
  fi
fi

echo "installing sensor build dependencies:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null

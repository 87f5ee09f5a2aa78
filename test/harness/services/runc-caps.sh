#!/bin/sh
# runc behind a wrapper that drops, from a container's spec, the capabilities this machine's
# root does not hold: Docker gives a --privileged container every capability the kernel
# knows, and runc fails ("unable to apply caps") when the bounding set lacks one. Docker
# writes the spec as one line of JSON.
bundle=""
prev=""
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a" ;; esac
  case "$a" in --bundle=*) bundle="${a#--bundle=}" ;; esac
  prev="$a"
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  bit=0
  for cap in CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE \
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT \
    SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE \
    AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ \
    PERFMON BPF CHECKPOINT_RESTORE; do
    if [ $(( (0x$bnd >> bit) & 1 )) -eq 0 ]; then
      sed -i -e "s/\"CAP_$cap\",//g" -e "s/,\"CAP_$cap\"//g" -e "s/\[\"CAP_$cap\"\]/[]/g" "$bundle/config.json"
    fi
    bit=$((bit + 1))
  done
fi
if [ -x /usr/sbin/runc ]; then exec /usr/sbin/runc "$@"; fi
exec runc "$@"

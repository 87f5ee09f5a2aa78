/**
 * Text forms of syscall arguments, as Falco prints them (rules match on these strings:
 * `evt.arg.flags contains O_TRUNC`, `evt.arg.request contains PTRACE_ATTACH`, `evt.res = ENOENT`).
 * Values are Linux's generic (x86_64 and arm64 share them).
 */
import { constants } from "node:os";

function bitNames(table: readonly [number, string][], value: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of table) if (bit !== 0 && (value & bit) === bit) out.push(name);
  return out;
}

export const O = {
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  DIRECTORY: 0o200000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
  TMPFILE: 0o20000000,
} as const;

const OPEN_FLAGS: readonly [number, string][] = [
  [0o100, "O_CREAT"],
  [0o200, "O_EXCL"],
  [0o400, "O_NOCTTY"],
  [0o1000, "O_TRUNC"],
  [0o2000, "O_APPEND"],
  [0o4000, "O_NONBLOCK"],
  [0o4010000, "O_SYNC"],
  [0o10000, "O_DSYNC"],
  [0o20000, "O_ASYNC"],
  [0o40000, "O_DIRECT"],
  [0o100000, "O_LARGEFILE"],
  [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"],
  [0o1000000, "O_NOATIME"],
  [0o2000000, "O_CLOEXEC"],
  [0o10000000, "O_PATH"],
  [0o20200000, "O_TMPFILE"],
];

/** "O_RDWR|O_CREAT|O_TRUNC" */
export function openFlagsText(flags: number): string {
  const acc = flags & 3;
  const parts = [acc === 1 ? "O_WRONLY" : acc === 2 ? "O_RDWR" : "O_RDONLY", ...bitNames(OPEN_FLAGS, flags)];
  return parts.join("|");
}

export function isOpenRead(flags: number): boolean {
  const acc = flags & 3;
  return acc === 0 || acc === 2;
}

export function isOpenWrite(flags: number): boolean {
  const acc = flags & 3;
  return acc === 1 || acc === 2;
}

const PTRACE: Record<number, string> = {
  0: "PTRACE_TRACEME",
  1: "PTRACE_PEEKTEXT",
  2: "PTRACE_PEEKDATA",
  3: "PTRACE_PEEKUSR",
  4: "PTRACE_POKETEXT",
  5: "PTRACE_POKEDATA",
  6: "PTRACE_POKEUSR",
  7: "PTRACE_CONT",
  8: "PTRACE_KILL",
  9: "PTRACE_SINGLESTEP",
  12: "PTRACE_GETREGS",
  13: "PTRACE_SETREGS",
  14: "PTRACE_GETFPREGS",
  15: "PTRACE_SETFPREGS",
  16: "PTRACE_ATTACH",
  17: "PTRACE_DETACH",
  18: "PTRACE_GETFPXREGS",
  19: "PTRACE_SETFPXREGS",
  24: "PTRACE_SYSCALL",
  31: "PTRACE_SYSEMU",
  32: "PTRACE_SYSEMU_SINGLESTEP",
  0x4200: "PTRACE_SETOPTIONS",
  0x4201: "PTRACE_GETEVENTMSG",
  0x4202: "PTRACE_GETSIGINFO",
  0x4203: "PTRACE_SETSIGINFO",
  0x4204: "PTRACE_GETREGSET",
  0x4205: "PTRACE_SETREGSET",
  0x4206: "PTRACE_SEIZE",
  0x4207: "PTRACE_INTERRUPT",
  0x4208: "PTRACE_LISTEN",
  0x4209: "PTRACE_PEEKSIGINFO",
};

export function ptraceRequestText(req: number): string {
  return PTRACE[req] ?? String(req);
}

const ERRNO_NAMES: Map<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, num] of Object.entries(constants.errno)) if (!m.has(num)) m.set(num, name);
  return m;
})();

/** evt.res: SUCCESS, or the errno name of a negative return value. */
export function resText(ret: number): string {
  if (ret >= 0) return "SUCCESS";
  return ERRNO_NAMES.get(-ret) ?? String(ret);
}

const EXE_FLAGS: readonly [number, string][] = [
  [4, "EXE_WRITABLE"],
  [2, "EXE_UPPER_LAYER"],
  [1, "EXE_FROM_MEMFD"],
];

export function exeFlagsText(flags: number): string {
  const names = bitNames(EXE_FLAGS, flags);
  return names.length > 0 ? names.join("|") : "0";
}

const CAPS = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
  "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/** Capability names in a set, space separated (Falco's thread.cap_* format). */
export function capsText(caps: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < CAPS.length; i++) if ((caps >> BigInt(i)) & 1n) out.push(CAPS[i]!);
  return out.join(" ");
}

const FAMILIES: Record<number, string> = { 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET" };

export function familyText(f: number): string {
  return FAMILIES[f] ?? String(f);
}

const SOCK_TYPES: Record<number, string> = { 1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET" };

export function sockTypeText(t: number): string {
  return SOCK_TYPES[t & 0xf] ?? String(t);
}

// The permission bits in Falco's order: evt.arg.mode of the chmod family lists their names.
const CHMOD_MODE: readonly [number, string][] = [
  [0o1, "S_IXOTH"],
  [0o2, "S_IWOTH"],
  [0o4, "S_IROTH"],
  [0o10, "S_IXGRP"],
  [0o20, "S_IWGRP"],
  [0o40, "S_IRGRP"],
  [0o100, "S_IXUSR"],
  [0o200, "S_IWUSR"],
  [0o400, "S_IRUSR"],
  [0o1000, "S_ISVTX"],
  [0o2000, "S_ISGID"],
  [0o4000, "S_ISUID"],
];

/**
 * A chmod mode as Falco renders it: the names of its bits ("S_IXOTH|S_IROTH|...|S_ISUID"),
 * or the octal number when no bit is set. Falco's walk stops at an entry equal to the whole
 * mode and names it last; kept, so both spell every mode alike.
 */
export function chmodModeText(mode: number): string {
  const whole = mode & 0o7777;
  let rest = whole;
  const names: string[] = [];
  let i = 0;
  for (; i < CHMOD_MODE.length && CHMOD_MODE[i]![0] !== whole; i++) {
    const [bit, name] = CHMOD_MODE[i]!;
    if (rest !== 0 && (rest & bit) === bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (i < CHMOD_MODE.length) names.push(CHMOD_MODE[i]![1]);
  return names.length > 0 ? names.join("|") : octalText(whole);
}

/** C's "%#o": a leading 0 unless the value is 0. */
export function octalText(v: number): string {
  return v === 0 ? "0" : `0${v.toString(8)}`;
}

// Namespace and clone flags, in the order Falco lists them.
const CLONE_FLAGS: readonly [number, string][] = [
  [0x400, "CLONE_FILES"],
  [0x200, "CLONE_FS"],
  [0x80000000, "CLONE_IO"],
  [0x8000000, "CLONE_NEWIPC"],
  [0x40000000, "CLONE_NEWNET"],
  [0x20000, "CLONE_NEWNS"],
  [0x20000000, "CLONE_NEWPID"],
  [0x4000000, "CLONE_NEWUTS"],
  [0x8000, "CLONE_PARENT"],
  [0x100000, "CLONE_PARENT_SETTID"],
  [0x2000, "CLONE_PTRACE"],
  [0x800, "CLONE_SIGHAND"],
  [0x40000, "CLONE_SYSVSEM"],
  [0x10000, "CLONE_THREAD"],
  [0x800000, "CLONE_UNTRACED"],
  [0x100, "CLONE_VM"],
  [0x10000000, "CLONE_NEWUSER"],
  [0x200000, "CLONE_CHILD_CLEARTID"],
  [0x1000000, "CLONE_CHILD_SETTID"],
  [0x80000, "CLONE_SETTLS"],
  [0x4000, "CLONE_VFORK"],
  [0x2000000, "CLONE_NEWCGROUP"],
];

/** clone, unshare and setns flags by name ("CLONE_NEWNS|CLONE_NEWUSER"), "0" when none. */
export function cloneFlagsText(flags: number): string {
  const names = CLONE_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  return names.length > 0 ? names.join("|") : "0";
}

// bpf(2) commands by number (the kernel's enum bpf_cmd); 10 is also BPF_PROG_RUN.
const BPF_COMMANDS = [
  "BPF_MAP_CREATE",
  "BPF_MAP_LOOKUP_ELEM",
  "BPF_MAP_UPDATE_ELEM",
  "BPF_MAP_DELETE_ELEM",
  "BPF_MAP_GET_NEXT_KEY",
  "BPF_PROG_LOAD",
  "BPF_OBJ_PIN",
  "BPF_OBJ_GET",
  "BPF_PROG_ATTACH",
  "BPF_PROG_DETACH",
  "BPF_PROG_TEST_RUN",
  "BPF_PROG_GET_NEXT_ID",
  "BPF_MAP_GET_NEXT_ID",
  "BPF_PROG_GET_FD_BY_ID",
  "BPF_MAP_GET_FD_BY_ID",
  "BPF_OBJ_GET_INFO_BY_FD",
  "BPF_PROG_QUERY",
  "BPF_RAW_TRACEPOINT_OPEN",
  "BPF_BTF_LOAD",
  "BPF_BTF_GET_FD_BY_ID",
  "BPF_TASK_FD_QUERY",
  "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
  "BPF_MAP_FREEZE",
  "BPF_BTF_GET_NEXT_ID",
  "BPF_MAP_LOOKUP_BATCH",
  "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
  "BPF_MAP_UPDATE_BATCH",
  "BPF_MAP_DELETE_BATCH",
  "BPF_LINK_CREATE",
  "BPF_LINK_UPDATE",
  "BPF_LINK_GET_FD_BY_ID",
  "BPF_LINK_GET_NEXT_ID",
  "BPF_ENABLE_STATS",
  "BPF_ITER_CREATE",
  "BPF_LINK_DETACH",
  "BPF_PROG_BIND_MAP",
];

/** A bpf(2) command by name, as Falco renders evt.arg.cmd (BPF_PROG_LOAD); the number otherwise. */
export function bpfCommandText(cmd: number): string {
  return BPF_COMMANDS[cmd] ?? String(cmd);
}

/** Layer-4 protocol name as fd.l4proto gives it. */
export function l4protoText(protocol: number, type: number): string {
  if (protocol === 6) return "tcp";
  if (protocol === 17) return "udp";
  if (protocol === 1 || protocol === 58) return "icmp";
  if ((type & 0xf) === 3) return "raw";
  if ((type & 0xf) === 1) return "tcp";
  if ((type & 0xf) === 2) return "udp";
  return "<NA>";
}

export const AT_FDCWD = -100;

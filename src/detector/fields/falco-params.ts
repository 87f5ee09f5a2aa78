/**
 * Falco's parameter order of each syscall's exit event (libscap's event table, the current
 * version of each event), for positional arguments: `evt.arg[N]` / `evt.rawarg[N]` is the N-th
 * parameter, `[0]` being the return value. Only the syscalls the sensor captures are listed.
 */
export const FALCO_EXIT_PARAMS: Readonly<Record<string, readonly string[]>> = {
  accept: ["fd", "tuple", "queuepct", "queuelen", "queuemax"],
  accept4: ["fd", "tuple", "queuepct", "queuelen", "queuemax", "flags"],
  bind: ["res", "addr", "fd"],
  bpf: ["fd", "cmd"],
  chmod: ["res", "filename", "mode"],
  clone: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts"],
  clone3: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts"],
  close: ["res", "fd"],
  connect: ["res", "tuple", "fd", "addr"],
  creat: ["fd", "name", "mode", "dev", "ino", "creat_flags"],
  dup: ["res", "oldfd"],
  dup2: ["res", "oldfd", "newfd"],
  dup3: ["res", "oldfd", "newfd", "flags"],
  execve: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "env", "tty", "vpgid", "loginuid", "flags", "cap_inheritable", "cap_permitted", "cap_effective", "exe_ino", "exe_ino_ctime", "exe_ino_mtime", "uid", "trusted_exepath", "pgid", "gid", "filename"],
  execveat: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "env", "tty", "vpgid", "loginuid", "flags", "cap_inheritable", "cap_permitted", "cap_effective", "exe_ino", "exe_ino_ctime", "exe_ino_mtime", "uid", "trusted_exepath", "pgid", "gid"],
  fchdir: ["res", "fd"],
  fchmod: ["res", "fd", "mode"],
  fchmodat: ["res", "dirfd", "filename", "mode"],
  finit_module: ["res", "fd", "uargs", "flags"],
  fork: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts"],
  init_module: ["res", "img", "length", "uargs"],
  link: ["res", "oldpath", "newpath"],
  linkat: ["res", "olddir", "oldpath", "newdir", "newpath", "flags"],
  listen: ["res", "fd", "backlog"],
  memfd_create: ["fd", "name", "flags"],
  mkdir: ["res", "path", "mode"],
  mkdirat: ["res", "dirfd", "path", "mode"],
  mount: ["res", "dev", "dir", "type", "flags"],
  open: ["fd", "name", "flags", "mode", "dev", "ino"],
  openat: ["fd", "dirfd", "name", "flags", "mode", "dev", "ino"],
  openat2: ["fd", "dirfd", "name", "flags", "mode", "resolve", "dev", "ino"],
  ptrace: ["res", "addr", "data", "request", "pid"],
  rename: ["res", "oldpath", "newpath"],
  renameat: ["res", "olddirfd", "oldpath", "newdirfd", "newpath"],
  renameat2: ["res", "olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
  rmdir: ["res", "path"],
  sendmsg: ["res", "data", "fd", "size", "tuple"],
  sendto: ["res", "data", "fd", "size", "tuple"],
  setgid: ["res", "gid"],
  setns: ["res", "fd", "nstype"],
  setregid: ["res", "rgid", "egid"],
  setresgid: ["res", "rgid", "egid", "sgid"],
  setresuid: ["res", "ruid", "euid", "suid"],
  setreuid: ["res", "ruid", "euid"],
  setsid: ["res"],
  setuid: ["res", "uid"],
  socket: ["fd", "domain", "type", "proto", "flags"],
  symlink: ["res", "target", "linkpath"],
  symlinkat: ["res", "target", "linkdirfd", "linkpath"],
  umount: ["res", "name"],
  umount2: ["res", "name", "flags"],
  unlink: ["res", "path"],
  unlinkat: ["res", "dirfd", "name", "flags"],
  unshare: ["res", "flags"],
  vfork: ["res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size", "vm_rss", "vm_swap", "comm", "cgroups", "flags", "uid", "gid", "vtid", "vpid", "pidns_init_start_ts"],
};

/** The argument name at position `index` for an event type; "res" for 0, undefined when unknown. */
export function positionalArg(type: string | undefined, index: number): string | undefined {
  if (index === 0) return "res";
  const params = type === undefined ? undefined : FALCO_EXIT_PARAMS[type];
  return params?.[index];
}

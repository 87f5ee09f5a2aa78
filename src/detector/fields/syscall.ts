/**
 * The `syscall` source's field registry: every field Falco's stable and incubating rules use
 * (plus a few common output fields), with Falco's type and a one-line meaning. The sensor's
 * extractors and the replay source answer these names; docs/fields.md is generated from here.
 */
import type { FieldInfo } from "../event.js";
import { CONTAINER_FIELD_LIST } from "../metadata/container-fields.js";
import { K8S_FIELD_LIST } from "../metadata/k8s-fields.js";

function f(name: string, type: FieldInfo["type"], description: string, extra: Partial<FieldInfo> = {}): FieldInfo {
  return { name, type, description, ...extra };
}

const OWN_FIELDS: readonly FieldInfo[] = [
  // evt.*
  f("evt.type", "string", "Event type: the syscall name (openat, execve, connect, ...)."),
  f("evt.num", "uint", "Event sequence number."),
  f("evt.time", "string", "Event time, RFC 3339 with nanoseconds."),
  f("evt.hostname", "string", "Host the event happened on."),
  f("evt.res", "string", "Result: SUCCESS, or the errno name (ENOENT, EACCES, ...)."),
  f("evt.rawres", "int", "Raw return value of the syscall (negative errno on failure)."),
  f("evt.is_open_read", "bool", "True for an open* that requests read access."),
  f("evt.is_open_write", "bool", "True for an open* that requests write access."),
  f("evt.is_open_exec", "bool", "True for an open* that creates an executable file."),
  f("evt.arg", "string", "One syscall argument by name (evt.arg.flags, evt.arg[flags]) or by position in Falco's parameter order (evt.arg[2], [0] the result), as formatted text; a relative path is joined to its directory (the cwd, or the dirfd's path), as Falco does.", {
    arg: "required",
    dottedArg: true,
  }),
  f("evt.rawarg", "string", "One raw syscall argument by name (evt.rawarg.res) or position (evt.rawarg[0]); a numeric argument compares as a number.", { arg: "required", dottedArg: true }),
  f("evt.args", "string", "All syscall arguments as one formatted string."),
  f("evt.dir", "string", "Event direction (deprecated: only exit events exist)."),
  f("evt.source", "string", "Event source name (syscall)."),
  // proc.*
  f("proc.name", "string", "Process name (comm, at most 15 characters)."),
  f("proc.exe", "string", "First command-line argument (argv[0])."),
  f("proc.exepath", "string", "Full path of the executable."),
  f("proc.cmdline", "string", "Process name and arguments, space separated."),
  f("proc.args", "string", "Process arguments (without argv[0]), space separated."),
  f("proc.pid", "int", "Process id."),
  f("proc.ppid", "int", "Parent process id."),
  f("proc.vpid", "int", "Process id as seen from its pid namespace."),
  f("proc.sid", "int", "Session id."),
  f("proc.vpgid", "int", "Process group id as seen from its pid namespace."),
  f("proc.vpgid.name", "string", "Name of the process-group leader."),
  f("proc.vpgid.exe", "string", "argv[0] of the process-group leader."),
  f("proc.is_vpgid_leader", "bool", "True when the process leads its process group."),
  f("proc.pname", "string", "Parent process name."),
  f("proc.pexe", "string", "Parent argv[0]."),
  f("proc.pexepath", "string", "Parent executable path."),
  f("proc.pcmdline", "string", "Parent command line."),
  f("proc.ppid.duration", "reltime", "Nanoseconds since the parent process started."),
  f("proc.aname", "string", "Ancestor name: [0] the process, [1] its parent, [2] grandparent...; no index = any ancestor.", {
    arg: "index",
    ancestors: true,
  }),
  f("proc.aexe", "string", "Ancestor argv[0], indexed like proc.aname; no index = any ancestor.", {
    arg: "index",
    ancestors: true,
  }),
  f("proc.aexepath", "string", "Ancestor executable path, indexed like proc.aname; no index = any ancestor.", {
    arg: "index",
    ancestors: true,
  }),
  f("proc.apid", "int", "Ancestor pid, indexed like proc.aname; no index = any ancestor.", { arg: "index", ancestors: true }),
  f("proc.cwd", "string", "Current working directory."),
  f("proc.tty", "int", "Controlling terminal number (0 when none)."),
  f("proc.sname", "string", "Name of the session leader."),
  f("proc.env", "string", "Environment (all variables, or one by name: proc.env[HOME]).", { arg: "optional" }),
  f("proc.duration", "reltime", "Nanoseconds since the process started."),
  f("proc.is_exe_upper_layer", "bool", "True when the executable lives in an overlayfs upper layer (dropped after start)."),
  f("proc.is_exe_from_memfd", "bool", "True when the executable is a memfd (fileless execution)."),
  f("proc.exe_ino.ctime", "abstime", "Executable inode change time (ns since epoch)."),
  f("proc.exe_ino.mtime", "abstime", "Executable inode modification time (ns since epoch)."),
  f("proc.exe_ino.ctime_duration_proc_start", "reltime", "Nanoseconds between the executable's ctime and process start."),
  // thread.*
  f("thread.tid", "int", "Thread id."),
  f("thread.cap_effective", "string", "Effective capabilities, as CAP_* names separated by spaces."),
  f("thread.cap_permitted", "string", "Permitted capabilities, as CAP_* names separated by spaces."),
  f("thread.cap_inheritable", "string", "Inheritable capabilities, as CAP_* names separated by spaces."),
  // user.* / group.*
  f("user.uid", "uint", "User id."),
  f("user.name", "string", "User name."),
  f("user.loginuid", "int", "Audit login uid (-1 when unset)."),
  f("user.loginname", "string", "Audit login user name."),
  f("group.gid", "uint", "Group id."),
  f("group.name", "string", "Group name."),
  // fd.*
  f("fd.num", "int", "File descriptor number (-1 when the call failed)."),
  f("fd.type", "string", "Descriptor type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, ..."),
  f("fd.typechar", "string", "Descriptor type as one character: f, d, 4, 6, u, p, ..."),
  f("fd.name", "string", "Full descriptor name: a path, or a connection tuple."),
  f("fd.nameraw", "string", "Descriptor name as passed to the syscall, before path resolution."),
  f("fd.directory", "string", "Directory part of a file descriptor's path."),
  f("fd.filename", "string", "File name part of a file descriptor's path."),
  f("fd.types", "string", "Types of the process's descriptors (or of one: fd.types[0]).", { isList: true, arg: "optional" }),
  f("fd.ip", "ipaddr", "Either endpoint's IP address: = and in match either end, != holds when neither end matches.", { bothEnds: true }),
  f("fd.cip", "ipaddr", "Client IP address."),
  f("fd.sip", "ipaddr", "Server IP address."),
  f("fd.lip", "ipaddr", "Local IP address."),
  f("fd.rip", "ipaddr", "Remote IP address."),
  f("fd.port", "port", "Either endpoint's port, compared like fd.ip.", { bothEnds: true }),
  f("fd.cport", "port", "Client port."),
  f("fd.sport", "port", "Server port."),
  f("fd.lport", "port", "Local port."),
  f("fd.rport", "port", "Remote port."),
  f("fd.net", "ipnet", "Either endpoint's IP, compared as network membership (fd.net = 10.0.0.0/8), like fd.ip.", { bothEnds: true }),
  f("fd.cnet", "ipnet", "Client IP, compared as network membership."),
  f("fd.snet", "ipnet", "Server IP, compared as network membership."),
  f("fd.lnet", "ipnet", "Local IP, compared as network membership."),
  f("fd.rnet", "ipnet", "Remote IP, compared as network membership."),
  f("fd.cip.name", "string", "Domain name of the client IP: compared as Falco does, by resolving the name the rule gives (fd.cip.name = kubernetes.default.svc.cluster.local); the value is a compared name the address belongs to, else empty."),
  f("fd.sip.name", "string", "Domain name of the server IP: compared as Falco does, by resolving the name the rule gives (fd.sip.name = kubernetes.default.svc.cluster.local); the value is a compared name the address belongs to, else empty."),
  f("fd.lip.name", "string", "Domain name of the local IP: compared as Falco does, by resolving the name the rule gives (fd.lip.name = kubernetes.default.svc.cluster.local); the value is a compared name the address belongs to, else empty."),
  f("fd.rip.name", "string", "Domain name of the remote IP: compared as Falco does, by resolving the name the rule gives (fd.rip.name = kubernetes.default.svc.cluster.local); the value is a compared name the address belongs to, else empty."),
  f("fd.l4proto", "string", "Layer-4 protocol: tcp, udp, icmp, raw."),
  f("fd.sockfamily", "string", "Socket family: ip or unix."),
  f("fd.connected", "bool", "True when the socket is connected."),
  f("fd.name_changed", "bool", "True when this event changed the descriptor's name (connect, sendto...)."),
  // container.* / k8s.* (the container plugin's fields, from the container engines)
  ...CONTAINER_FIELD_LIST,
  f("k8s.ns.name", "string", "Kubernetes namespace of the pod."),
  f("k8s.pod.name", "string", "Kubernetes pod name."),
];

/** With the API server's Kubernetes fields (k8smeta.* and the legacy k8s.* names). */
export const SYSCALL_FIELD_LIST: readonly FieldInfo[] = [
  ...OWN_FIELDS,
  ...K8S_FIELD_LIST.filter((k) => !OWN_FIELDS.some((f) => f.name === k.name)),
];

export const SYSCALL_FIELDS: ReadonlyMap<string, FieldInfo> = new Map(SYSCALL_FIELD_LIST.map((x) => [x.name, x]));

/**
 * Event types (syscall names and scap pseudo events) the `syscall` source knows. A rule
 * naming another evt.type fails to load, as in Falco ("unknown event type").
 */
export const SYSCALL_EVENT_TYPES: ReadonlySet<string> = new Set(
  (
    "accept accept4 access acct bind bpf brk capset chdir chmod chown chroot clone clone3 close connect " +
    "copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_wait eventfd eventfd2 " +
    "execve execveat exit exit_group fchdir fchmod fchmodat fchown fchownat fcntl fdatasync finit_module " +
    "flock fork fsconfig fstat fsync ftruncate futex getcwd getdents getdents64 getegid geteuid getgid getpeername " +
    "getresgid getresuid getrlimit getsockname getsockopt gettid getuid init_module inotify_init inotify_init1 " +
    "io_uring_enter io_uring_register io_uring_setup ioctl kill lchown link linkat listen llseek lseek lstat " +
    "memfd_create mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mount mprotect munlock munlockall " +
    "munmap nanosleep newfstatat open open_by_handle_at openat openat2 pidfd_getfd pidfd_open pipe pipe2 poll " +
    "ppoll prctl pread pread64 preadv prlimit process_vm_readv process_vm_writev ptrace pwrite pwrite64 pwritev " +
    "quotactl read readlink readlinkat readv recvfrom recvmmsg recvmsg rename renameat renameat2 rmdir " +
    "sched_yield seccomp select semctl semget semop sendfile sendmmsg sendmsg sendto setgid setns setpgid " +
    "setresgid setresuid setrlimit setsid setsockopt setuid shutdown signalfd signalfd4 socket socketpair " +
    "splice stat symlink symlinkat syncfs tgkill timerfd_create tkill truncate umount umount2 unlink unlinkat " +
    "unshare userfaultfd utimensat vfork wait4 write writev " +
    // scap pseudo events
    "procexit switch container cpu_hotplug drop notification infra signaldeliver page_fault procinfo"
  ).split(/\s+/),
);

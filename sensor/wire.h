/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Peregrine sensor wire format. The one description of the bytes the sensor writes to
 * stdout; src/detector/sources/syscall/wire.ts mirrors it and test/unit/sensor checks the
 * two against each other through build/wire-dump (which prints this header's layout).
 *
 * Stream: a sequence of frames, each little-endian:
 *
 *   struct pg_hdr            fixed header; hdr.len is the whole frame's size in bytes
 *   __u16 lens[nparams]      length table: byte length of each parameter, in order
 *   parameters               concatenated, no padding; lengths from the table
 *
 * Parameter encodings (the kind is known from the event type, never sent):
 *   INT    8 bytes, signed 64-bit (raw syscall argument register)
 *   STR    bytes including one trailing NUL; length 0 means "unavailable"
 *   ARGS   NUL-separated argv as laid out by the kernel (each entry NUL-terminated)
 *   BYTES  raw bytes (a sockaddr, a struct open_how, ...)
 *   INFO   a fixed struct defined below (pg_exec_info, pg_fork_info, pg_sock_tuple, ...)
 *
 * Syscall events (PG_EV_SYSCALL) carry one parameter per non-NONE entry of the syscall's
 * row in PG_SYSCALLS (arguments in order), then the extras named by the row's X flags.
 * The syscall's return value is hdr.ret. Events are taken at syscall exit.
 */
#ifndef PEREGRINE_WIRE_H
#define PEREGRINE_WIRE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PG_WIRE_VERSION 4
#define PG_MAX_PARAMS 16

/* hdr.type */
enum pg_event_type {
	PG_EV_HELLO = 1,   /* first frame: params[0] = struct pg_hello */
	PG_EV_SYSCALL = 2, /* a captured syscall exit: hdr.sc says which */
	PG_EV_EXEC = 3,    /* successful execve/execveat (sched_process_exec); hdr.sc = execve|execveat */
	PG_EV_FORK = 4,    /* a new process (not thread): params[0] = struct pg_fork_info */
	PG_EV_EXIT = 5,    /* the last thread of a process exited; no params */
	PG_EV_STATS = 6,   /* periodic counters: params[0] = struct pg_stats */
};

struct pg_hdr {
	__u32 len;      /* whole frame, header included */
	__u16 type;     /* enum pg_event_type */
	__u16 nparams;  /* entries in the length table */
	__u64 ts;       /* nanoseconds since boot (CLOCK_BOOTTIME); wall = ts + hello.boot_offset_ns */
	__u32 tgid;     /* process id (init pid namespace) */
	__u32 tid;      /* thread id */
	__s64 ret;      /* syscall return value (negative errno on failure) */
	__u16 sc;       /* enum pg_syscall, 0 for non-syscall events */
	__u16 cpu;
	__u32 uid;      /* effective uid of the thread at the event */
	__u32 gid;      /* effective gid */
	__u32 reserved;
};

/* Parameter kinds, as used in the PG_SYSCALLS table. */
#define PG_A_NONE 0
#define PG_A_INT 1
#define PG_A_STR 2     /* user pointer to a NUL-terminated string */
#define PG_A_SADDR 3   /* user pointer to a sockaddr, its length is the next argument */
#define PG_A_HOW 4     /* user pointer to struct open_how (openat2) */

/* Extras appended after the arguments. */
#define PG_X_NONE 0
#define PG_X_SOCK_ARG0 1 /* struct pg_sock_tuple of the socket fd in argument 0 */
#define PG_X_SOCK_RET 2  /* struct pg_sock_tuple of the socket fd returned */
#define PG_X_FD_PATH_ARG0 3 /* STR: path of the fd in argument 0 when userspace cannot know it
			     * (the kernel-side filter kept the open that made it); else empty */
#define PG_X_FD_PATH_ARG1 4 /* STR: the same for the fd in argument 1 */
#define PG_X_FD_PATH_ARG0_ARG2 5 /* two STR: the same for the fds in arguments 0 and 2 */

/*
 * The captured syscalls: X(UPPER, id, name, a0, a1, a2, a3, a4, a5, extra, category).
 * Portable ids (not the architecture's syscall numbers): the sensor maps native numbers to
 * these ids, so the stream is the same on every architecture.
 */
#define PG_SYSCALLS(X)                                                                    \
	X(OPEN, 1, open, STR, INT, INT, NONE, NONE, NONE, NONE, FILE)                     \
	X(OPENAT, 2, openat, INT, STR, INT, INT, NONE, NONE, FD_PATH_ARG0, FILE)          \
	X(OPENAT2, 3, openat2, INT, STR, HOW, INT, NONE, NONE, FD_PATH_ARG0, FILE)        \
	X(CREAT, 4, creat, STR, INT, NONE, NONE, NONE, NONE, NONE, FILE)                  \
	X(EXECVE, 5, execve, STR, NONE, NONE, NONE, NONE, NONE, NONE, PROC)               \
	X(EXECVEAT, 6, execveat, INT, STR, NONE, NONE, INT, NONE, NONE, PROC)             \
	X(CONNECT, 7, connect, INT, SADDR, INT, NONE, NONE, NONE, SOCK_ARG0, NET)         \
	X(ACCEPT, 8, accept, INT, NONE, NONE, NONE, NONE, NONE, SOCK_RET, NET)            \
	X(ACCEPT4, 9, accept4, INT, NONE, NONE, INT, NONE, NONE, SOCK_RET, NET)           \
	X(BIND, 10, bind, INT, SADDR, INT, NONE, NONE, NONE, SOCK_ARG0, NET)              \
	X(LISTEN, 11, listen, INT, INT, NONE, NONE, NONE, NONE, SOCK_ARG0, NET)           \
	X(SOCKET, 12, socket, INT, INT, INT, NONE, NONE, NONE, NONE, NET)                 \
	X(SENDTO, 13, sendto, INT, NONE, INT, INT, SADDR, INT, SOCK_ARG0, NET)            \
	X(SENDMSG, 14, sendmsg, INT, NONE, INT, NONE, NONE, NONE, SOCK_ARG0, NET)         \
	X(SYMLINK, 15, symlink, STR, STR, NONE, NONE, NONE, NONE, NONE, FILE)             \
	X(SYMLINKAT, 16, symlinkat, STR, INT, STR, NONE, NONE, NONE, FD_PATH_ARG1, FILE)         \
	X(LINK, 17, link, STR, STR, NONE, NONE, NONE, NONE, NONE, FILE)                   \
	X(LINKAT, 18, linkat, INT, STR, INT, STR, INT, NONE, FD_PATH_ARG0_ARG2, FILE)            \
	X(UNLINK, 19, unlink, STR, NONE, NONE, NONE, NONE, NONE, NONE, FILE)              \
	X(UNLINKAT, 20, unlinkat, INT, STR, INT, NONE, NONE, NONE, FD_PATH_ARG0, FILE)           \
	X(RENAME, 21, rename, STR, STR, NONE, NONE, NONE, NONE, NONE, FILE)               \
	X(RENAMEAT, 22, renameat, INT, STR, INT, STR, NONE, NONE, FD_PATH_ARG0_ARG2, FILE)       \
	X(RENAMEAT2, 23, renameat2, INT, STR, INT, STR, INT, NONE, FD_PATH_ARG0_ARG2, FILE)      \
	X(MKDIR, 24, mkdir, STR, INT, NONE, NONE, NONE, NONE, NONE, FILE)                 \
	X(MKDIRAT, 25, mkdirat, INT, STR, INT, NONE, NONE, NONE, FD_PATH_ARG0, FILE)             \
	X(CHMOD, 26, chmod, STR, INT, NONE, NONE, NONE, NONE, NONE, FILE)                 \
	X(FCHMOD, 27, fchmod, INT, INT, NONE, NONE, NONE, NONE, FD_PATH_ARG0, FILE)       \
	X(FCHMODAT, 28, fchmodat, INT, STR, INT, NONE, NONE, NONE, FD_PATH_ARG0, FILE)           \
	X(DUP, 29, dup, INT, NONE, NONE, NONE, NONE, NONE, FD_PATH_ARG0, FILE)            \
	X(DUP2, 30, dup2, INT, INT, NONE, NONE, NONE, NONE, FD_PATH_ARG0, FILE)           \
	X(DUP3, 31, dup3, INT, INT, INT, NONE, NONE, NONE, FD_PATH_ARG0, FILE)            \
	X(PTRACE, 32, ptrace, INT, INT, NONE, NONE, NONE, NONE, NONE, PROC)               \
	X(INIT_MODULE, 33, init_module, NONE, INT, STR, NONE, NONE, NONE, NONE, PROC)     \
	X(FINIT_MODULE, 34, finit_module, INT, STR, INT, NONE, NONE, NONE, FD_PATH_ARG0, PROC) \
	X(MOUNT, 35, mount, STR, STR, STR, INT, NONE, NONE, NONE, FILE)                   \
	X(UMOUNT2, 36, umount2, STR, INT, NONE, NONE, NONE, NONE, NONE, FILE)             \
	X(SETUID, 37, setuid, INT, NONE, NONE, NONE, NONE, NONE, NONE, PROC)              \
	X(SETGID, 38, setgid, INT, NONE, NONE, NONE, NONE, NONE, NONE, PROC)              \
	X(SETREUID, 39, setreuid, INT, INT, NONE, NONE, NONE, NONE, NONE, PROC)           \
	X(SETREGID, 40, setregid, INT, INT, NONE, NONE, NONE, NONE, NONE, PROC)           \
	X(SETRESUID, 41, setresuid, INT, INT, INT, NONE, NONE, NONE, NONE, PROC)          \
	X(SETRESGID, 42, setresgid, INT, INT, INT, NONE, NONE, NONE, NONE, PROC)          \
	X(MEMFD_CREATE, 43, memfd_create, STR, INT, NONE, NONE, NONE, NONE, NONE, FILE)   \
	X(CLONE, 44, clone, INT, NONE, NONE, NONE, NONE, NONE, NONE, PROC)                \
	X(CLONE3, 45, clone3, NONE, NONE, NONE, NONE, NONE, NONE, NONE, PROC)             \
	X(FORK, 46, fork, NONE, NONE, NONE, NONE, NONE, NONE, NONE, PROC)                 \
	X(VFORK, 47, vfork, NONE, NONE, NONE, NONE, NONE, NONE, NONE, PROC)               \
	X(CLOSE, 48, close, INT, NONE, NONE, NONE, NONE, NONE, NONE, FILE)                \
	X(CHDIR, 49, chdir, STR, NONE, NONE, NONE, NONE, NONE, NONE, FILE)                \
	X(FCHDIR, 50, fchdir, INT, NONE, NONE, NONE, NONE, NONE, FD_PATH_ARG0, FILE)      \
	X(SETSID, 51, setsid, NONE, NONE, NONE, NONE, NONE, NONE, NONE, PROC)             \
	X(RMDIR, 52, rmdir, STR, NONE, NONE, NONE, NONE, NONE, NONE, FILE)                \
	X(UMOUNT, 53, umount, STR, NONE, NONE, NONE, NONE, NONE, NONE, FILE)              \
	X(SETNS, 54, setns, INT, INT, NONE, NONE, NONE, NONE, FD_PATH_ARG0, PROC)         \
	X(UNSHARE, 55, unshare, INT, NONE, NONE, NONE, NONE, NONE, NONE, PROC)            \
	X(BPF, 56, bpf, INT, NONE, NONE, NONE, NONE, NONE, NONE, OTHER)

#define PG_SC_MAX 64 /* ids are < PG_SC_MAX */

enum pg_syscall {
	PG_SC_NONE = 0,
#define PG_SC_ENUM(U, id, n, a0, a1, a2, a3, a4, a5, x, cat) PG_SC_##U = id,
	PG_SYSCALLS(PG_SC_ENUM)
#undef PG_SC_ENUM
};

/* Counter categories (struct pg_stats index). */
enum pg_category {
	PG_CAT_FILE = 0,
	PG_CAT_NET = 1,
	PG_CAT_PROC = 2, /* process-changing syscalls, exec, fork, exit */
	PG_CAT_OTHER = 3,
	PG_CAT_COUNT = 4,
};

/* pg_exec_info.flags */
#define PG_EXE_FROM_MEMFD 1u   /* the executable is a memfd (fileless execution) */
#define PG_EXE_UPPER_LAYER 2u  /* the executable lives in an overlayfs upper layer */
#define PG_EXE_WRITABLE 4u     /* the executable's inode is writable by its owner */

/* PG_EV_EXEC params: 0 pg_exec_info, 1 exe path (STR), 2 filename as passed (STR),
 * 3 argv (ARGS), 4 cwd (STR), 5 comm (STR), 6 cgroup leaf name (STR),
 * 7 environment (ARGS: NAME=value strings, the first 4 KiB). */
#define PG_EXEC_NPARAMS 8
struct pg_exec_info {
	__u32 ppid;      /* real parent's tgid */
	__u32 sid;       /* session id */
	__u32 pgid;      /* process group id */
	__u32 vpid;      /* pid inside its own pid namespace */
	__u32 vpgid;     /* process group id inside its own pid namespace */
	__u32 loginuid;  /* audit login uid, 0xffffffff when unset */
	__u32 uid;       /* real uid */
	__u32 gid;       /* real gid */
	__u32 euid;
	__u32 egid;
	__u32 tty;       /* (major << 20) | minor of the controlling tty, 0 when none */
	__u32 flags;     /* PG_EXE_* */
	__u64 cap_effective;
	__u64 start_ns;  /* process start, ns since boot */
	__u64 exe_ino;
	__s64 exe_ctime_ns; /* inode change time, ns since the epoch */
	__s64 exe_mtime_ns; /* modification time, ns since the epoch */
	__u64 cap_permitted;
	__u64 cap_inheritable;
};

/* PG_EV_FORK params: 0 pg_fork_info. hdr.tgid is the creating process. */
struct pg_fork_info {
	__u32 child_tgid;
	__u32 ppid;       /* the child's real parent (differs from hdr.tgid with CLONE_PARENT) */
	__u32 vpid;
	__u32 reserved;
	__u64 start_ns;
};

/* PG_X_SOCK_*: the local and remote ends of a socket, as the kernel holds them. */
struct pg_sock_tuple {
	__u16 family;   /* AF_INET, AF_INET6, AF_UNIX, ... (0: not a socket) */
	__u16 type;     /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 sport;    /* local port, host order */
	__u16 dport;    /* remote port, host order */
	__u16 reserved;
	__u8 saddr[16]; /* local address: IPv4 in the first 4 bytes */
	__u8 daddr[16]; /* remote address */
};

/* PG_EV_HELLO params: 0 pg_hello. */
struct pg_hello {
	__u32 version;        /* PG_WIRE_VERSION */
	__u32 ncpu;
	__s64 boot_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME at start */
	__u64 ring_bytes;     /* size of each per-CPU ring buffer */
};

/* PG_EV_STATS params: 0 pg_stats. Counts since the sensor started. */
struct pg_stats {
	__u64 events[PG_CAT_COUNT]; /* events written into the ring buffers */
	__u64 drops[PG_CAT_COUNT];  /* events lost because a ring buffer was full */
	__u64 filtered[PG_CAT_COUNT]; /* events no loaded rule can match, left in the kernel */
};

#endif /* PEREGRINE_WIRE_H */

// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Peregrine eBPF sensor, kernel side (libbpf CO-RE).
 *
 * One sys_exit dispatcher (BTF tracepoint) gated by `interest`, a table from the native
 * syscall number to our portable id that userspace fills from the rules' event types, so
 * that an uninteresting syscall costs one load and one compare. Process lifecycle comes
 * from sched_process_exec/fork/exit, which are always on: the process table in userspace
 * depends on them. Frames are built in a per-CPU scratch buffer and copied into the
 * current CPU's ring buffer (one ring per CPU: no cross-CPU lock on the hot path).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "wire.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FRAME_MAX 32768        /* scratch frame size; a power of two */
#define DATA_LIMIT 16384       /* a parameter only starts below this offset */
#define STR_MAX 4096           /* longest string parameter (PATH_MAX) */
#define SADDR_MAX 128          /* sizeof(struct sockaddr_storage) */
#define PATH_BUF 8192          /* path builder: components are written backwards into [0, 4096) */
#define PATH_COMPONENTS 48     /* deepest path resolved in the kernel */
#define NR_MAX 1024            /* native syscall numbers considered */
#define NR32_MAX 512           /* ia32 syscall numbers considered (x86_64) */
#define PKEY_DATA 256          /* longest path the open filter judges (LPM trie key limit) */
#define FD_BITS 1024           /* descriptors tracked per process by the close filter */

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10

/* Set by userspace before load. */
const volatile __u32 self_tgid = 0;
const volatile long nr_execveat = -1;
const volatile long nr32_execveat = -1;
const volatile __u64 wake_bytes = 0; /* wake the reader only once this much data waits */
/* Processes whose syscalls are not reported (the detector reading /proc, for one): compared
 * inline, which is cheaper on the hot path than a map lookup. */
#define MAX_IGNORED 8
const volatile __u32 ignored_tgids[MAX_IGNORED] = {};

/* Set when userspace passed --open-read-paths: read-only opens no entry of `open_paths` can
 * match are left in the kernel, with their closes (see open_unwanted). */
const volatile __u32 open_filter = 0;
/* Set when some entries name processes ("@comm"): an open by one of them is always wanted. */
const volatile __u32 comm_filter = 0;

/* Native syscall number -> enum pg_syscall (0: not wanted). Written by userspace at run time. */
__u16 interest[NR_MAX] = {};
/* The same for ia32 numbers: 32-bit programs, and `int $0x80` from 64-bit ones, which would
 * otherwise read a file under another syscall's number (ia32 5 is open, native 5 fstat). */
__u16 interest32[NR32_MAX] = {};

/* The frame being built on this CPU, and where the next parameter goes. */
struct frame {
	__u32 off; /* next data byte */
	__u32 np;  /* parameters written */
	__u64 submitted; /* frames this CPU submitted: the ring's fill is checked every 64th */
	__u8 b[FRAME_MAX - 24]; /* a per-CPU value may not exceed 32 KiB */
};
struct pathbuf {
	__u8 b[PATH_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame);
} frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} paths SEC(".maps");

/* The open filter's paths, from the rules: an entry whose key ends with its NUL is an exact
 * path, one without is a prefix. A path is wanted when any entry is a prefix of it. */
struct pkey {
	__u32 prefixlen; /* in bits, as LPM tries count */
	__u8 data[PKEY_DATA];
};
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pkey);
	__type(value, __u8);
} open_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkey);
} pkeys SEC(".maps");

/* Per process, one bit per descriptor below FD_BITS. Clear: userspace holds no entry for it
 * -- it was closed, or its open was filtered. Set: it may hold one. So a close of a clear
 * descriptor would change nothing in userspace and stays in the kernel (that is what makes a
 * filtered open's close cheap too), and an event that needs a clear descriptor's name
 * carries its path (PG_X_FD_PATH_ARG0). A process gets its bitmap, all ones, at its first
 * close or filtered open, or a copy of its parent's at fork. */
struct fdbits {
	__u64 w[FD_BITS / 64];
	__u32 cwd; /* enum cwd_state: may a relative open be judged like an absolute one? */
	__u32 reserved;
	__u64 cwd_fs; /* the fs_struct the judgement was made for: a thread that unshared its
		       * cwd (unshare(CLONE_FS)) has another one and is judged again */
	char comm[16]; /* the process's name at its last exec, as userspace's proc.name */
	__u32 comm_set;
	__u32 reserved2;
};

/* Process names ("@comm" entries) whose opens are always wanted: a rule constrains the
 * process by name and could match whatever the path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, char[16]);
	__type(value, __u8);
} open_comms SEC(".maps");

enum cwd_state {
	CWD_UNJUDGED = 0, /* not looked at since the process started or last changed directory */
	CWD_SAFE = 1,     /* no filter entry lies under "cwd/" nor is a prefix of it */
	CWD_UNSAFE = 2,
	CWD_SHARED = 3,   /* shares its cwd with another process (CLONE_FS): never judged */
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fdbits);
} fd_bits SEC(".maps");

/* [category] = events written, [PG_CAT_COUNT + category] = events dropped,
 * [2 * PG_CAT_COUNT + category] = events filtered in the kernel */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3 * PG_CAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by userspace */
};

/* One ring buffer per CPU, indexed by CPU number; userspace creates and inserts them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* resized to the number of possible CPUs */
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/* Argument kinds per portable syscall id: a0..a5, extra, category. */
#define K(k) PG_A_##k
#define PG_ROW(U, id, n, a0, a1, a2, a3, a4, a5, x, cat) \
	[id] = {K(a0), K(a1), K(a2), K(a3), K(a4), K(a5), PG_X_##x, PG_CAT_##cat},
static const __u8 sc_table[PG_SC_MAX][8] = {PG_SYSCALLS(PG_ROW)};
#undef PG_ROW
#undef K

/*
 * Frame builders. They are global (not inlined) functions on purpose: the verifier checks a
 * global function once, on its own, instead of once per path through every caller; with
 * seven variable-length parameters per exec event, inlining would exceed its budget.
 * Pointers travel as integers because global functions only take scalars.
 */

static __always_inline struct frame *cur_frame(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&frames, &zero);
}

static __always_inline struct pg_hdr *begin(__u16 type, __u16 sc, long ret, __u32 nparams)
{
	struct frame *f = cur_frame();
	if (!f)
		return 0;
	struct pg_hdr *h = (struct pg_hdr *)f->b;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	h->type = type;
	h->nparams = nparams;
	h->ts = bpf_ktime_get_boot_ns();
	h->tgid = id >> 32;
	h->tid = (__u32)id;
	h->ret = ret;
	h->sc = sc;
	h->cpu = bpf_get_smp_processor_id();
	h->uid = (__u32)ug; /* callers refine these to the effective ids */
	h->gid = ug >> 32;
	h->reserved = 0;
	f->np = 0;
	f->off = sizeof(struct pg_hdr) + 2 * (nparams & (PG_MAX_PARAMS - 1));
	return h;
}

/* Records the length of the parameter just written at f->off. */
static __always_inline void set_len(struct frame *f, __u32 len)
{
	__u32 i = f->np;
	*(__u16 *)&f->b[(sizeof(struct pg_hdr) + 2 * (i & (PG_MAX_PARAMS - 1))) & 511] = len;
	f->np = i + 1;
	f->off += len;
}

/* The first parameter sits at a constant offset, so a fixed struct is copied in directly. */
static __always_inline void put_first_struct(const void *src, __u32 size)
{
	struct frame *f = cur_frame();
	if (!f || f->np != 0)
		return;
	__u32 off = f->off;
	if (off > 256)
		return;
	bpf_probe_read_kernel(&f->b[off & 511], size, src);
	set_len(f, size);
}

__noinline int pg_put_empty(void)
{
	struct frame *f = cur_frame();
	if (f)
		set_len(f, 0);
	return 0;
}

__noinline int pg_put_s64(__s64 v)
{
	struct frame *f = cur_frame();
	if (!f)
		return 0;
	__u32 off = f->off;
	if (off >= DATA_LIMIT) {
		set_len(f, 0);
		return 0;
	}
	*(__s64 *)&f->b[off & (DATA_LIMIT - 1)] = v;
	set_len(f, 8);
	return 0;
}

/* A NUL-terminated string from user memory (from_kernel 0) or kernel memory (1). */
__noinline int pg_put_str(unsigned long ptr, int from_kernel)
{
	struct frame *f = cur_frame();
	long n = 0;
	if (!f)
		return 0;
	__u32 off = f->off;
	if (off < DATA_LIMIT && ptr) {
		void *dst = &f->b[off & (DATA_LIMIT - 1)];
		n = from_kernel ? bpf_probe_read_kernel_str(dst, STR_MAX, (const void *)ptr)
				: bpf_probe_read_user_str(dst, STR_MAX, (const void *)ptr);
	}
	set_len(f, n > 0 ? (__u32)n : 0);
	return 0;
}

/* The path the open filter read into `pkeys` (its length, NUL included, is prefixlen / 8). */
__noinline int pg_put_pkey_path(void)
{
	struct frame *f = cur_frame();
	__u32 zero = 0;
	struct pkey *k = bpf_map_lookup_elem(&pkeys, &zero);
	if (!f)
		return 0;
	__u32 off = f->off;
	__u32 n = k ? k->prefixlen / 8 : 0;
	if (off >= DATA_LIMIT || n == 0 || n > PKEY_DATA) {
		set_len(f, 0);
		return 0;
	}
	bpf_probe_read_kernel(&f->b[off & (DATA_LIMIT - 1)], n & (2 * PKEY_DATA - 1), k->data);
	set_len(f, n);
	return 0;
}

/* The current task's comm (16 bytes at most). */
__noinline int pg_put_comm(void)
{
	struct frame *f = cur_frame();
	if (!f)
		return 0;
	__u32 off = f->off;
	if (off >= DATA_LIMIT) {
		set_len(f, 0);
		return 0;
	}
	__u8 *dst = &f->b[off & (DATA_LIMIT - 1)];
	if (bpf_get_current_comm(dst, 16)) {
		set_len(f, 0);
		return 0;
	}
	__u32 n = 0;
	for (n = 0; n < 15 && dst[n]; n++)
		;
	set_len(f, n + 1);
	return 0;
}

__noinline int pg_put_user_bytes(unsigned long uptr, __u64 len, __u32 max)
{
	struct frame *f = cur_frame();
	if (!f)
		return 0;
	__u32 off = f->off;
	if (off >= DATA_LIMIT || !uptr || len == 0) {
		set_len(f, 0);
		return 0;
	}
	if (len > max)
		len = max;
	len &= STR_MAX - 1;
	if (bpf_probe_read_user(&f->b[off & (DATA_LIMIT - 1)], len, (const void *)uptr))
		len = 0;
	set_len(f, (__u32)len);
	return 0;
}

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

__noinline int pg_submit(__u32 cat)
{
	struct frame *f = cur_frame();
	__u32 cpu = bpf_get_smp_processor_id();
	void *rb = bpf_map_lookup_elem(&rings, &cpu);
	cat &= 3;
	if (!f || !rb)
		return 0;
	struct pg_hdr *h = (struct pg_hdr *)f->b;
	__u32 len = f->off;
	h->len = len;
	h->nparams = f->np;
	__u64 flags = BPF_RB_NO_WAKEUP;
	if ((++f->submitted & 63) == 0 && bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wake_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (len > sizeof(f->b))
		return 0;
	if (bpf_ringbuf_output(rb, f->b, len, flags)) {
		count(PG_CAT_COUNT + cat);
		return 0;
	}
	count(cat);
	return 0;
}

/* ---- paths ---------------------------------------------------------------------------- */

struct walk {
	struct dentry *d;
	struct mount *mnt;
	struct dentry *mnt_root;
	__u32 pos; /* first byte written so far, components are written right to left */
	__u32 whole; /* the walk reached a root (the path is not cut short) */
	struct dentry *root_d; /* where to stop besides the global root: a task's own root */
	struct vfsmount *root_mnt;
};

/* One path component per call (bpf_loop): the verifier checks the body once, not 48 times. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	__u32 zero = 0;
	__u8 *pb = bpf_map_lookup_elem(&paths, &zero);
	if (!pb)
		return 1;
	struct dentry *d = w->d;
	struct mount *mnt = w->mnt;
	if (w->root_d && d == w->root_d && &mnt->mnt == w->root_mnt) {
		w->whole = 1;
		return 1; /* the task's root (chroot, a container's root): paths are as it sees them */
	}
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == w->mnt_root || d == parent) {
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (d != w->mnt_root || mp == mnt || !mp) {
			w->whole = 1;
			return 1; /* the real root, or an internal mount (pipe:, memfd:, ...) */
		}
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mp;
		w->mnt_root = BPF_CORE_READ(mp, mnt.mnt_root);
		return 0;
	}
	__u32 len = BPF_CORE_READ(d, d_name.len) & 255;
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	__u32 pos = w->pos;
	if (pos > STR_MAX - 1 || pos < len + 1)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(&pb[pos & (STR_MAX - 1)], len, name);
	pos -= 1;
	pb[pos & (STR_MAX - 1)] = '/';
	w->pos = pos;
	w->d = parent;
	return 0;
}

/*
 * Builds the absolute path of (mnt, dentry) in `paths`, crossing mount points: the string
 * ends at STR_MAX - 1 (its NUL) and starts at the returned position; bit 16 of the result
 * is set when the walk reached a root, so the path is whole. -1 when there is nothing.
 * With task_root, the walk stops at the current task's root, as the task names paths.
 */
__noinline int pg_walk_path(unsigned long mnt_addr, unsigned long dentry_addr, int task_root)
{
	struct vfsmount *vfsmnt = (struct vfsmount *)mnt_addr;
	struct dentry *d = (struct dentry *)dentry_addr;
	__u32 zero = 0;
	__u8 *pb = bpf_map_lookup_elem(&paths, &zero);
	if (!pb || !d || !vfsmnt)
		return -1;
	struct walk w = {
		.d = d,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root),
		.pos = STR_MAX - 1,
	};
	if (task_root) {
		struct task_struct *task = bpf_get_current_task_btf();
		w.root_d = BPF_CORE_READ(task, fs, root.dentry);
		w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	}
	pb[STR_MAX - 1] = 0;
	bpf_loop(PATH_COMPONENTS, walk_step, &w, 0);
	__u32 pos = w.pos;
	if (pos > STR_MAX - 1)
		pos = STR_MAX - 1;
	if (pos == STR_MAX - 1) {
		d = w.d;
		if (d == BPF_CORE_READ(d, d_parent) && d != w.mnt_root) {
			/* A pseudo file's own dentry (memfd:name, pipe:[..]): its name alone. */
			__u32 len = BPF_CORE_READ(d, d_name.len) & 255;
			pos -= len;
			bpf_probe_read_kernel(&pb[pos & (STR_MAX - 1)], len, BPF_CORE_READ(d, d_name.name));
		} else {
			pos -= 1;
			pb[pos & (STR_MAX - 1)] = '/';
		}
	}
	return (int)((pos & (STR_MAX - 1)) | (w.whole ? 0x10000 : 0));
}

/* Writes the absolute path of (mnt, dentry) as a STR parameter. */
__noinline int pg_put_path(unsigned long mnt_addr, unsigned long dentry_addr)
{
	__u32 zero = 0;
	__u8 *pb = bpf_map_lookup_elem(&paths, &zero);
	struct frame *c = cur_frame();
	if (!c)
		return 0;
	int r = pg_walk_path(mnt_addr, dentry_addr, 0);
	if (!pb || r < 0) {
		set_len(c, 0);
		return 0;
	}
	__u32 pos = (__u32)r & (STR_MAX - 1);
	__u32 off = c->off;
	__u32 len = STR_MAX - pos;
	if (off >= DATA_LIMIT || len > STR_MAX) {
		set_len(c, 0);
		return 0;
	}
	bpf_probe_read_kernel(&c->b[off & (DATA_LIMIT - 1)], len & (2 * STR_MAX - 1), &pb[pos & (STR_MAX - 1)]);
	set_len(c, len);
	return 0;
}

/* ---- socket tuple --------------------------------------------------------------------- */

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (fd < 0 || fd >= max)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

__noinline int pg_put_sock(long fd)
{
	struct frame *c = cur_frame();
	if (!c)
		return 0;
	__u32 off = c->off;
	if (off >= DATA_LIMIT) {
		set_len(c, 0);
		return 0;
	}
	struct pg_sock_tuple *t = (struct pg_sock_tuple *)&c->b[off & (DATA_LIMIT - 1)];
	__builtin_memset(t, 0, sizeof(*t));
	set_len(c, sizeof(*t));

	struct task_struct *task = bpf_get_current_task_btf();
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->family = family;
	t->type = BPF_CORE_READ(sock, type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->saddr, &s, 4);
		__builtin_memcpy(t->daddr, &d, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr);
	}
	return 0;
}

/* ---- syscall arguments ---------------------------------------------------------------- */

static __always_inline long sc_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
#error "unsupported architecture"
#endif
}

/* The current syscall is an ia32 one (TS_COMPAT in the thread's status, x86 only). */
#define TS_COMPAT 0x0002
static __always_inline int sc_compat(void)
{
#if defined(__TARGET_ARCH_x86)
	return (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT) != 0;
#else
	return 0;
#endif
}

/* The six syscall arguments, read once per event: the native registers, or for an ia32
 * call its own (ebx, ecx, edx, esi, edi, ebp), 32 bits wide. */
struct sc_args {
	unsigned long a[6];
};

static __always_inline void sc_load_args(struct pt_regs *regs, int compat, struct sc_args *out)
{
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		out->a[0] = (__u32)regs->bx;
		out->a[1] = (__u32)regs->cx;
		out->a[2] = (__u32)regs->dx;
		out->a[3] = (__u32)regs->si;
		out->a[4] = (__u32)regs->di;
		out->a[5] = (__u32)regs->bp;
		return;
	}
	out->a[0] = regs->di;
	out->a[1] = regs->si;
	out->a[2] = regs->dx;
	out->a[3] = regs->r10;
	out->a[4] = regs->r8;
	out->a[5] = regs->r9;
#elif defined(__TARGET_ARCH_arm64)
	out->a[0] = regs->orig_x0;
	for (int i = 1; i < 6; i++)
		out->a[i] = regs->regs[i];
#endif
}

/* ---- kernel-side filter --------------------------------------------------------------- */

#define AT_FDCWD -100
#define O_ACCMODE 3
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_DIRECTORY 0200000
#define O_PATH 010000000

#define BYTES_1 0x0101010101010101ULL
#define BYTES_7F 0x7f7f7f7f7f7f7f7fULL

/* The high bit of every byte of x that is zero, and nothing else (no borrow between bytes). */
static __always_inline __u64 zero_bytes(__u64 x)
{
	return ~(((x & BYTES_7F) + BYTES_7F) | x | BYTES_7F);
}

/* The process's descriptor bitmap, on its thread-group leader (freed with it). An exec from
 * another thread makes that thread the leader: the bitmap starts again, all ones, and until
 * it is created (the process's next close, filtered open or, with process names, the exec
 * itself) an event naming a descriptor carries its path. */
static __always_inline struct fdbits *fd_bits_of_current(__u64 flags)
{
	return bpf_task_storage_get(&fd_bits, bpf_get_current_task_btf()->group_leader, 0, flags);
}

/* A new process state: every descriptor may be known to userspace, the cwd not judged. */
static __always_inline void fd_bits_init(struct fdbits *b)
{
	__builtin_memset(b->w, 0xff, sizeof(b->w));
	b->cwd = CWD_UNJUDGED;
	b->comm_set = 0;
}

/* *bp, the process's state as looked up once per event, created if the process has none. */
static __always_inline struct fdbits *fd_bits_ensure(struct fdbits **bp)
{
	if (!*bp) {
		*bp = fd_bits_of_current(BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (*bp)
			fd_bits_init(*bp);
	}
	return *bp;
}

#define FD_WORD(fd) (((fd) >> 6) & (FD_BITS / 64 - 1))
#define FD_BIT(fd) (1ULL << ((fd) & 63))

/*
 * May a relative path (without "..") opened from the current cwd match a filter entry, or
 * have ".." in its fd.name? Walks
 * the cwd (rare: once per process and change of directory) and looks "cwd/" up in
 * `open_paths`: a prefix entry covering it, or an entry userspace added for each directory
 * above every path ("=/etc/" for "=/etc/shadow"), means yes. Uses the `pkeys` scratch.
 */
__noinline int pg_judge_cwd(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct pkey *k = bpf_map_lookup_elem(&pkeys, &zero);
	__u8 *pb = bpf_map_lookup_elem(&paths, &zero);
	if (!k || !pb)
		return CWD_UNSAFE;
	int r = pg_walk_path((unsigned long)BPF_CORE_READ(task, fs, pwd.mnt), (unsigned long)BPF_CORE_READ(task, fs, pwd.dentry), 1);
	if (r < 0 || !(r & 0x10000))
		return CWD_UNSAFE; /* no cwd, or deeper than the walk goes */
	__u32 pos = (__u32)r & (STR_MAX - 1);
	__u32 len = STR_MAX - 1 - pos; /* without the NUL */
	if (len == 0 || len > PKEY_DATA - 2 || pb[pos & (STR_MAX - 1)] != '/')
		return CWD_UNSAFE;
	bpf_probe_read_kernel(k->data, len & (PKEY_DATA - 1), &pb[pos & (STR_MAX - 1)]);
	/* a directory named "a..b" would put ".." into every fd.name below it */
	for (__u32 i = 0; i + 1 < PKEY_DATA; i++) {
		if (i + 1 >= len)
			break;
		if (k->data[i] == '.' && k->data[i + 1] == '.')
			return CWD_UNSAFE;
	}
	if (len > 1)
		k->data[len++ & (PKEY_DATA - 1)] = '/'; /* "/" stays "/" */
	k->data[len & (PKEY_DATA - 1)] = 0;
	k->prefixlen = (len + 1) * 8;
	return bpf_map_lookup_elem(&open_paths, k) ? CWD_UNSAFE : CWD_SAFE;
}

/* A close userspace would ignore: the descriptor's bit is clear. Clears the bit otherwise. */
static __always_inline int close_unwanted(struct fdbits **bp, long fd)
{
	if (fd < 0 || fd >= FD_BITS)
		return 0;
	struct fdbits *b = fd_bits_ensure(bp);
	if (!b)
		return 0;
	if (!(b->w[FD_WORD(fd)] & FD_BIT(fd)))
		return 1;
	__sync_fetch_and_and(&b->w[FD_WORD(fd)], ~FD_BIT(fd));
	return 0;
}

/* A filtered open's descriptor: userspace holds no entry for it. */
static __always_inline void fd_filtered(struct fdbits **bp, long fd)
{
	if (fd < 0 || fd >= FD_BITS)
		return;
	struct fdbits *b = fd_bits_ensure(bp);
	/* usually clear already: the previous close of this number was filtered too */
	if (b && (b->w[FD_WORD(fd)] & FD_BIT(fd)))
		__sync_fetch_and_and(&b->w[FD_WORD(fd)], ~FD_BIT(fd));
}

/* A reported descriptor: userspace may now hold an entry for it. */
static __always_inline void fd_reported(struct fdbits *b, long fd)
{
	if (fd < 0 || fd >= FD_BITS)
		return;
	if (b && !(b->w[FD_WORD(fd)] & FD_BIT(fd)))
		__sync_fetch_and_or(&b->w[FD_WORD(fd)], FD_BIT(fd));
}

/* True when userspace may not know descriptor `fd` (no bitmap counts: it may be inherited
 * from before the bitmap went missing). */
static __always_inline int fd_unknown(struct fdbits *b, long fd)
{
	if (fd < 0 || fd >= FD_BITS)
		return 0;
	return !b || !(b->w[FD_WORD(fd)] & FD_BIT(fd));
}

/* The path of the current task's descriptor `fd`, as a STR parameter (empty when none). */
__noinline int pg_put_fd_path(long fd)
{
	struct file *f = fd_file(bpf_get_current_task_btf(), fd);
	if (!f)
		return pg_put_empty();
	return pg_put_path((unsigned long)BPF_CORE_READ(f, f_path.mnt), (unsigned long)BPF_CORE_READ(f, f_path.dentry));
}

/*
 * An open no loaded rule can match: read-only (no write access, O_CREAT or O_TRUNC), not
 * asked for a directory, and a plain path -- no "//", no "/." (so no "." or ".." component,
 * nor a hidden file: simpler to test), no ".." anywhere, no trailing "/". An absolute one is
 * the fd.name the rules would see, and is wanted only if `open_paths` holds an exact entry
 * for it or a prefix of it; a relative one (against the cwd, not "." or "./...") stays under
 * the cwd, and is wanted unless the cwd was judged safe (pg_judge_cwd). Userspace derives the
 * entries from the rules and turns the filter off when some rule could match an open
 * whatever its path. A directory opened without O_DIRECTORY may be filtered too: checking
 * the new descriptor's inode costs more than this whole filter; its bit in the bitmap stays
 * clear, so an event that later uses it carries its path (PG_X_FD_PATH_ARG0).
 * Sets *path_read when the path was read whole into `pkeys`, for pg_put_pkey_path: a reported
 * open does not read it from user memory twice.
 */
static __always_inline int open_unwanted(__u16 sc, const struct sc_args *args, long ret, int *path_read, struct fdbits **bp)
{
	unsigned long path, flags;
	if (sc == PG_SC_OPEN) {
		path = args->a[0];
		flags = args->a[1];
	} else if (sc == PG_SC_OPENAT) {
		path = args->a[1];
		flags = args->a[2];
	} else {
		return 0;
	}
	if (flags & (O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_PATH) || ret >= FD_BITS)
		return 0;
	__u32 zero = 0;
	struct pkey *k = bpf_map_lookup_elem(&pkeys, &zero);
	if (!k)
		return 0;
	long n = bpf_probe_read_user_str(k->data, PKEY_DATA, (const void *)path);
	if (n < 2 || n >= PKEY_DATA)
		return 0; /* unreadable, empty, or too long to judge */
	k->prefixlen = (__u32)n * 8; /* the NUL included: exact entries match only the whole path */
	*path_read = 1;
	int relative = k->data[0] != '/';
	/* relative to a dirfd rather than the cwd; or "." and "./...", the cwd itself, which a
	 * filter entry may equal */
	if (relative && ((sc == PG_SC_OPENAT && (int)args->a[0] != AT_FDCWD) ||
			 (k->data[0] == '.' && (k->data[1] == 0 || k->data[1] == '/'))))
		return 0;
	/* Eight bytes at a time: a byte loop cost more than the rest of the filter. */
	__u32 len = (__u32)n - 1;
	__u64 prev_mark = 0, prev_slash = 0;
	for (int i = 0; i < PKEY_DATA / 8; i++) {
		__u32 off = (__u32)i * 8;
		if (off >= len)
			break;
		__u64 w = *(__u64 *)&k->data[off & (PKEY_DATA - 8)];
		__u32 rem = len - off;
		__u64 valid = rem >= 8 ? ~0ULL : (1ULL << (rem * 8)) - 1;
		__u64 dot = zero_bytes(w ^ (BYTES_1 * '.')) & valid;
		__u64 slash = zero_bytes(w ^ (BYTES_1 * '/')) & valid;
		__u64 mark = dot | slash;
		/* "..", "/." or "//" inside the word, or across the previous word's last byte */
		if ((mark & (dot >> 8)) || (slash & (slash >> 8)) || (prev_mark && (dot & 0x80)) || (prev_slash && (slash & 0x80)))
			return 0;
		prev_mark = mark >> 63;
		prev_slash = slash >> 63;
	}
	if (n > 2 && k->data[(n - 2) & (PKEY_DATA - 1)] == '/')
		return 0;
	if (!relative) {
		if (bpf_map_lookup_elem(&open_paths, k))
			return 0;
	} else {
		/* Relative, without "..": it stays under the cwd, so the cwd decides. */
		struct fdbits *b = fd_bits_ensure(bp);
		if (!b)
			return 0;
		__u64 fs = (__u64)bpf_get_current_task_btf()->fs;
		if (b->cwd == CWD_UNJUDGED || (b->cwd != CWD_SHARED && b->cwd_fs != fs)) {
			b->cwd = pg_judge_cwd();
			b->cwd_fs = fs;
			*path_read = 0; /* the judge reused the scratch: the path is read again if sent */
		}
		if (b->cwd != CWD_SAFE)
			return 0;
	}
	if (comm_filter) {
		/* by its name at exec, as userspace knows it; unknown (no exec seen): wanted */
		struct fdbits *b = *bp;
		if (!b || !b->comm_set || bpf_map_lookup_elem(&open_comms, b->comm))
			return 0;
	}
	return 1;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pg_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = sc_nr(regs);
	if ((unsigned long)nr >= NR_MAX)
		return 0;
	/* Wanted under neither numbering (most syscalls): no need to ask which one it is. A copy
	 * of the number the compiler cannot tie to the first index, so the verifier sees both
	 * bounds. */
	long nr32 = nr;
	barrier_var(nr32);
	if (interest[nr] == 0 && ((unsigned long)nr32 >= NR32_MAX || interest32[nr32] == 0))
		return 0;
	int compat = sc_compat();
	__u16 sc;
	if (compat) {
		if ((unsigned long)nr >= NR32_MAX)
			return 0;
		sc = interest32[nr];
	} else {
		sc = interest[nr];
	}
	if (sc == 0 || sc >= PG_SC_MAX)
		return 0;
	/* A successful exec is reported by sched_process_exec, with the new image. */
	if ((sc == PG_SC_EXECVE || sc == PG_SC_EXECVEAT) && ret == 0)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == self_tgid)
		return 0;
	for (int i = 0; i < MAX_IGNORED; i++)
		if (ignored_tgids[i] == tgid)
			return 0;

	const __u8 *row = sc_table[sc];
	struct sc_args args;
	sc_load_args(regs, compat, &args);
	int path_read = 0;
	/* the process's filter state, looked up once for the whole event */
	struct fdbits *b = open_filter ? fd_bits_of_current(0) : 0;
	if (open_filter) {
		if (sc == PG_SC_CLOSE) {
			if (close_unwanted(&b, (long)args.a[0])) {
				count(2 * PG_CAT_COUNT + (row[7] & 3));
				return 0;
			}
		} else if (open_unwanted(sc, &args, ret, &path_read, &b)) {
			fd_filtered(&b, ret);
			count(2 * PG_CAT_COUNT + (row[7] & 3));
			return 0;
		}
		/* any syscall's non-negative result below FD_BITS: a superset only costs closes */
		if (sc != PG_SC_CLOSE)
			fd_reported(b, ret);
		if ((sc == PG_SC_CHDIR || sc == PG_SC_FCHDIR) && ret == 0 && b && b->cwd != CWD_SHARED)
			b->cwd = CWD_UNJUDGED;
	}
	__u32 np = 0;
	for (int i = 0; i < 6; i++)
		np += row[i] != PG_A_NONE;
	np += row[6] != PG_X_NONE;
	np += row[6] == PG_X_FD_PATH_ARG0_ARG2;

	struct pg_hdr *h = begin(PG_EV_SYSCALL, sc, ret, np);
	if (!h)
		return 0;
	/* Direct loads through BTF pointers: inline, cheaper than probe-read helper calls. */
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	h->uid = cred->euid.val;
	h->gid = cred->egid.val;

	for (int i = 0; i < 6; i++) {
		__u8 kind = row[i];
		unsigned long a = args.a[i];
		if (kind == PG_A_INT) {
			pg_put_s64((__s64)a);
		} else if (kind == PG_A_STR) {
			if (path_read)
				pg_put_pkey_path();
			else
				pg_put_str(a, 0);
		} else if (kind == PG_A_SADDR) {
			unsigned long alen = i < 5 ? args.a[i + 1] : 0;
			pg_put_user_bytes(a, alen, SADDR_MAX);
		} else if (kind == PG_A_HOW) {
			pg_put_user_bytes(a, sizeof(struct open_how), sizeof(struct open_how));
		}
	}
	if (row[6] == PG_X_SOCK_ARG0)
		pg_put_sock((long)args.a[0]);
	else if (row[6] == PG_X_SOCK_RET)
		pg_put_sock(ret);
	else if (row[6] >= PG_X_FD_PATH_ARG0) {
		/* a descriptor argument (a dirfd for the *at calls) whose open the filter kept */
		long fd = (long)(row[6] == PG_X_FD_PATH_ARG1 ? args.a[1] : args.a[0]);
		if (open_filter && fd_unknown(b, fd))
			pg_put_fd_path(fd);
		else
			pg_put_empty();
		if (row[6] == PG_X_FD_PATH_ARG0_ARG2) {
			fd = (long)args.a[2];
			if (open_filter && fd_unknown(b, fd))
				pg_put_fd_path(fd);
			else
				pg_put_empty();
		}
	}
	pg_submit(row[7]);
	return 0;
}

/* ---- process lifecycle ---------------------------------------------------------------- */

static __always_inline __u32 ns_nr(struct pid *pid)
{
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

struct inode___v611 {
	time64_t i_mtime_sec;
	time64_t i_ctime_sec;
	u32 i_mtime_nsec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct inode___v66 {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline void inode_times(struct inode *ino, __s64 *ctime, __s64 *mtime)
{
	if (bpf_core_field_exists(struct inode___v611, i_ctime_sec)) {
		struct inode___v611 *i = (void *)ino;
		*ctime = BPF_CORE_READ(i, i_ctime_sec) * 1000000000LL + BPF_CORE_READ(i, i_ctime_nsec);
		*mtime = BPF_CORE_READ(i, i_mtime_sec) * 1000000000LL + BPF_CORE_READ(i, i_mtime_nsec);
	} else if (bpf_core_field_exists(struct inode___v66, __i_ctime)) {
		struct inode___v66 *i = (void *)ino;
		*ctime = BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000LL + BPF_CORE_READ(i, __i_ctime.tv_nsec);
		*mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000LL + BPF_CORE_READ(i, i_mtime.tv_nsec);
	} else {
		struct inode___old *i = (void *)ino;
		*ctime = BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000LL + BPF_CORE_READ(i, i_ctime.tv_nsec);
		*mtime = BPF_CORE_READ(i, i_mtime.tv_sec) * 1000000000LL + BPF_CORE_READ(i, i_mtime.tv_nsec);
	}
}

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

static __always_inline __u32 exe_flags(struct file *exe)
{
	__u32 flags = 0;
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	char pfx[6] = {};
	bpf_probe_read_kernel(pfx, sizeof(pfx), name);
	if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':')
		flags |= PG_EXE_FROM_MEMFD;
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	umode_t mode = BPF_CORE_READ(ino, i_mode);
	if (mode & 0200)
		flags |= PG_EXE_WRITABLE;
	if (BPF_CORE_READ(ino, i_sb, s_magic) == OVERLAYFS_SUPER_MAGIC &&
	    bpf_core_type_exists(struct ovl_inode)) {
		/* An overlay inode has an upper dentry only when the file was copied up or created
		 * in the container's writable layer. */
		struct ovl_inode *oi = container_of(ino, struct ovl_inode, vfs_inode);
		if (BPF_CORE_READ(oi, __upperdentry))
			flags |= PG_EXE_UPPER_LAYER;
	}
	return flags;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pg_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(p);
	long nr = sc_nr(regs);
	__u16 sc = nr == (sc_compat() ? nr32_execveat : nr_execveat) ? PG_SC_EXECVEAT : PG_SC_EXECVE;
	/* orig_ax does not always tell execveat apart here; an exec through a descriptor
	 * (execveat with a dirfd, fexecve) leaves bprm->fdpath set. */
	if (bpf_core_field_exists(bprm->fdpath) && BPF_CORE_READ(bprm, fdpath))
		sc = PG_SC_EXECVEAT;
	struct pg_hdr *h = begin(PG_EV_EXEC, sc, 0, PG_EXEC_NPARAMS);
	if (!h)
		return 0;

	struct pg_exec_info info = {};
	const struct cred *cred = BPF_CORE_READ(p, cred);
	info.ppid = BPF_CORE_READ(p, real_parent, tgid);
	info.sid = BPF_CORE_READ(p, signal, pids[PIDTYPE_SID], numbers[0].nr);
	info.pgid = BPF_CORE_READ(p, signal, pids[PIDTYPE_PGID], numbers[0].nr);
	info.vpid = ns_nr(BPF_CORE_READ(p, thread_pid));
	info.vpgid = ns_nr(BPF_CORE_READ(p, signal, pids[PIDTYPE_PGID]));
	info.loginuid = BPF_CORE_READ(p, loginuid.val);
	info.uid = BPF_CORE_READ(cred, uid.val);
	info.gid = BPF_CORE_READ(cred, gid.val);
	info.euid = BPF_CORE_READ(cred, euid.val);
	info.egid = BPF_CORE_READ(cred, egid.val);
	BPF_CORE_READ_INTO(&info.cap_effective, cred, cap_effective); /* kernel_cap_t: 64 bits */
	BPF_CORE_READ_INTO(&info.cap_permitted, cred, cap_permitted);
	BPF_CORE_READ_INTO(&info.cap_inheritable, cred, cap_inheritable);
	info.start_ns = BPF_CORE_READ(p, start_boottime);
	struct tty_struct *tty = BPF_CORE_READ(p, signal, tty);
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		info.tty = ((__u32)major << 20) | (__u32)minor;
	}
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	if (exe) {
		struct inode *ino = BPF_CORE_READ(exe, f_inode);
		info.exe_ino = BPF_CORE_READ(ino, i_ino);
		inode_times(ino, &info.exe_ctime_ns, &info.exe_mtime_ns);
		info.flags = exe_flags(exe);
	}
	h->uid = info.euid;
	h->gid = info.egid;

	if (comm_filter) {
		struct fdbits *b = fd_bits_of_current(0);
		if (fd_bits_ensure(&b)) {
			bpf_get_current_comm(b->comm, sizeof(b->comm));
			b->comm_set = 1;
		}
	}
	put_first_struct(&info, sizeof(info));
	if (exe)
		pg_put_path((unsigned long)BPF_CORE_READ(exe, f_path.mnt), (unsigned long)BPF_CORE_READ(exe, f_path.dentry));
	else
		pg_put_empty();
	pg_put_str((unsigned long)BPF_CORE_READ(bprm, filename), 1);
	unsigned long as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	pg_put_user_bytes(as, ae > as ? ae - as : 0, STR_MAX - 1);
	pg_put_path((unsigned long)BPF_CORE_READ(p, fs, pwd.mnt), (unsigned long)BPF_CORE_READ(p, fs, pwd.dentry));
	pg_put_comm();
	pg_put_str((unsigned long)BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, name), 1);
	unsigned long es = BPF_CORE_READ(mm, env_start), ee = BPF_CORE_READ(mm, env_end);
	pg_put_user_bytes(es, ee > es ? ee - es : 0, STR_MAX - 1);
	pg_submit(PG_CAT_PROC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pg_fork, struct task_struct *parent, struct task_struct *child)
{
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread: the process table is per process */
	struct pg_hdr *h = begin(PG_EV_FORK, 0, 0, 1);
	if (!h)
		return 0;
	if (open_filter) {
		/* the child inherits the descriptors, what userspace knows of them, and the cwd */
		struct fdbits *from = bpf_task_storage_get(&fd_bits, parent->group_leader, 0, 0);
		int shared_fs = BPF_CORE_READ(child, fs) == BPF_CORE_READ(parent, fs);
		if (shared_fs && !from) {
			from = bpf_task_storage_get(&fd_bits, parent->group_leader, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (from)
				fd_bits_init(from);
		}
		if (from) {
			/* CLONE_FS: a chdir in one changes the other's cwd unseen, so neither is judged */
			if (shared_fs)
				from->cwd = CWD_SHARED;
			struct fdbits *to = bpf_task_storage_get(&fd_bits, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (to)
				__builtin_memcpy(to, from, sizeof(*to));
		}
	}
	struct pg_fork_info fi = {};
	fi.child_tgid = BPF_CORE_READ(child, tgid);
	fi.ppid = BPF_CORE_READ(child, real_parent, tgid);
	fi.vpid = ns_nr(BPF_CORE_READ(child, thread_pid));
	fi.start_ns = BPF_CORE_READ(child, start_boottime);
	put_first_struct(&fi, sizeof(fi));
	pg_submit(PG_CAT_PROC);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pg_exit, struct task_struct *p)
{
	/* Only the last thread of a process: signal->live reaches 0 before this tracepoint. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	struct pg_hdr *h = begin(PG_EV_EXIT, 0, BPF_CORE_READ(p, exit_code), 0);
	if (!h)
		return 0;
	h->tgid = BPF_CORE_READ(p, tgid);
	h->tid = BPF_CORE_READ(p, pid);
	pg_submit(PG_CAT_PROC);
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * peregrine-sensor: loads the eBPF programs, drains the per-CPU ring buffers and writes
 * the frames described in wire.h to stdout, merged into timestamp order.
 *
 * Ordering: each CPU's ring is in time order, but a process that migrates between CPUs
 * could otherwise have its events read out of order (an open before its exec). Frames are
 * staged per ring and released in timestamp order once they are older than a watermark a
 * little behind "now", so a frame still being committed on another CPU cannot be overtaken.
 *
 * Usage: peregrine-sensor [--syscalls a,b,c] [--ring-bytes N] [--ignore-pid PID]...
 *                         [--open-read-paths LIST] [--stats-ms N] [--check] [--verbose]
 *
 * --open-read-paths turns on the kernel-side open filter (sensor.bpf.c, open_unwanted):
 * LIST holds one entry per line, "=PATH" for an exact path, "^PREFIX" for a prefix, "@NAME"
 * for a process name (comm, at most 15 bytes) whose opens are always reported; a read-only
 * open of a plain absolute path matching none of them, or of a relative path from a cwd no
 * entry lies under, is not reported, nor is the close of a descriptor never reported. An
 * empty LIST filters every such open.
 * Exit codes: 0 stopped by a signal or --check passed, 1 internal error, 2 the host cannot
 * run the sensor (one line on stderr names the fix).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "wire.h"
#include "sensor.skel.h"
#include "syscall_nrs.h"
#include "syscall_nrs_ia32.h"

#define NR_MAX 1024
#define NR32_MAX 512 /* ia32 syscall numbers considered */
#define PKEY_DATA 256 /* as in sensor.bpf.c: the open filter's longest path */
#define WATERMARK_NS 3000000ULL /* frames younger than this wait for the next round */
#define POLL_MS 10
#define OUT_CAP (1u << 20)

static volatile sig_atomic_t stopping;
static int verbose;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The one line for a host that cannot run the sensor, then exit 2. */
static void fatal_env(const char *fmt, ...)
{
	va_list ap;
	fputs("peregrine-sensor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* libbpf's own messages only with --verbose: failures are summarised by our one error line. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* ---- output ---------------------------------------------------------------------------- */

static unsigned char *out_buf;
static size_t out_len;

static void out_flush(void)
{
	size_t done = 0;
	while (done < out_len) {
		ssize_t n = write(STDOUT_FILENO, out_buf + done, out_len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE)
				exit(0); /* the reader went away: nothing left to do */
			fprintf(stderr, "peregrine-sensor: writing frames failed: %s\n", strerror(errno));
			exit(1);
		}
		done += (size_t)n;
	}
	out_len = 0;
}

static void out_write(const void *p, size_t n)
{
	if (out_len + n > OUT_CAP)
		out_flush();
	memcpy(out_buf + out_len, p, n);
	out_len += n;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* A frame made in userspace: header, one-entry length table, one struct parameter. */
static void emit_struct_frame(__u16 type, const void *payload, __u16 len)
{
	struct pg_hdr h = {0};
	h.len = sizeof(h) + 2 + len;
	h.type = type;
	h.nparams = 1;
	h.ts = clock_ns(CLOCK_BOOTTIME);
	h.tgid = h.tid = (__u32)getpid();
	out_write(&h, sizeof(h));
	out_write(&len, 2);
	out_write(payload, len);
}

/* ---- staging and merge ----------------------------------------------------------------- */

struct stage {
	unsigned char *buf;
	size_t head, tail, cap;
};

static struct stage *stages;
static int nstages;

static int on_sample(void *ctx, void *data, size_t size)
{
	struct stage *s = ctx;
	if (s->tail + size > s->cap) {
		if (s->head > 0) { /* compact before growing */
			memmove(s->buf, s->buf + s->head, s->tail - s->head);
			s->tail -= s->head;
			s->head = 0;
		}
		if (s->tail + size > s->cap) {
			size_t cap = s->cap ? s->cap * 2 : (1u << 20);
			while (cap < s->tail + size)
				cap *= 2;
			unsigned char *nb = realloc(s->buf, cap);
			if (!nb) {
				fprintf(stderr, "peregrine-sensor: out of memory staging frames\n");
				exit(1);
			}
			s->buf = nb;
			s->cap = cap;
		}
	}
	memcpy(s->buf + s->tail, data, size);
	s->tail += size;
	return 0;
}

static __u64 head_ts(struct stage *s)
{
	struct pg_hdr h;
	memcpy(&h, s->buf + s->head, sizeof(h));
	return h.ts;
}

/* Releases staged frames in timestamp order, up to `until` (inclusive). */
static void release(__u64 until)
{
	for (;;) {
		int best = -1;
		__u64 best_ts = 0;
		for (int i = 0; i < nstages; i++) {
			struct stage *s = &stages[i];
			if (s->head == s->tail)
				continue;
			__u64 ts = head_ts(s);
			if (ts <= until && (best < 0 || ts < best_ts)) {
				best = i;
				best_ts = ts;
			}
		}
		if (best < 0)
			break;
		struct stage *s = &stages[best];
		struct pg_hdr h;
		memcpy(&h, s->buf + s->head, sizeof(h));
		out_write(s->buf + s->head, h.len);
		s->head += h.len;
		if (s->head == s->tail)
			s->head = s->tail = 0;
	}
}

/* ---- arguments ------------------------------------------------------------------------- */

struct sc_name {
	const char *name;
	__u16 id;
	long nr;
	long nr32; /* ia32 number on x86_64 (32-bit programs, int $0x80); -1 elsewhere */
};

#if defined(__x86_64__)
#define PG_NR32(n) PG_NR32_##n
#else
#define PG_NR32(n) (-1)
#endif

static const struct sc_name sc_names[] = {
#define PG_NAME_ROW(U, id, n, a0, a1, a2, a3, a4, a5, x, cat) {#n, id, PG_NR_##n, PG_NR32(n)},
	PG_SYSCALLS(PG_NAME_ROW)
#undef PG_NAME_ROW
};
#define SC_COUNT (sizeof(sc_names) / sizeof(sc_names[0]))

/* Marks a syscall wanted, under its native number and its ia32 one. */
static void want(__u16 *interest, __u16 *interest32, const struct sc_name *sc)
{
	if (sc->nr >= 0 && sc->nr < NR_MAX)
		interest[sc->nr] = sc->id;
	if (sc->nr32 >= 0 && sc->nr32 < NR32_MAX)
		interest32[sc->nr32] = sc->id;
}

static const struct sc_name *find_sc(const char *name, size_t len)
{
	for (size_t i = 0; i < SC_COUNT; i++)
		if (strlen(sc_names[i].name) == len && strncmp(sc_names[i].name, name, len) == 0)
			return &sc_names[i];
	return NULL;
}

static unsigned long long parse_size(const char *flag, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end) {
		fprintf(stderr, "peregrine-sensor: %s expects a number, got \"%s\"\n", flag, v);
		exit(1);
	}
	return n;
}

/* Whether --open-read-paths names processes ("@comm" entries). */
static int has_comm_entries(const char *list)
{
	for (const char *p = list; p && *p; p++)
		if (*p == '@' && (p == list || p[-1] == '\n'))
			return 1;
	return 0;
}

/* Loads --open-read-paths into the LPM trie and the process-name map; a malformed entry is
 * an error naming it. */
static void load_open_paths(int map_fd, int comm_fd, const char *list)
{
	struct {
		__u32 prefixlen;
		__u8 data[PKEY_DATA];
	} key;
	__u8 one = 1;
	const char *p = list;
	int paths = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && p[0] == '@') {
			char comm[16] = {0};
			if (len < 2 || len - 1 > 15) {
				fprintf(stderr, "peregrine-sensor: --open-read-paths: entry \"%.*s\" must be @name with 1 to 15 bytes\n",
					(int)len, p);
				exit(1);
			}
			memcpy(comm, p + 1, len - 1);
			if (bpf_map_update_elem(comm_fd, comm, &one, BPF_ANY))
				fatal_env("cannot load the open filter (%s)", strerror(errno));
		} else if (len) {
			if ((p[0] != '=' && p[0] != '^') || len < 2 || p[1] != '/') {
				fprintf(stderr, "peregrine-sensor: --open-read-paths: entry \"%.*s\" must be =/exact/path, ^/prefix or @name\n",
					(int)len, p);
				exit(1);
			}
			size_t n = len - 1 + (p[0] == '=' ? 1 : 0); /* an exact path keeps its NUL */
			/* longer paths are never filtered, so their entries are not needed */
			if (n < PKEY_DATA) {
				memset(&key, 0, sizeof(key));
				memcpy(key.data, p + 1, len - 1);
				key.prefixlen = (__u32)n * 8;
				if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY))
					fatal_env("cannot load the open filter (%s)", strerror(errno));
			}
			paths = 1;
			/* Every directory above the entry, as an exact "DIR/": a cwd that is one of them
			 * may reach the entry through a relative path (pg_judge_cwd). */
			for (size_t i = 1; i < len - 1 && i + 2 <= PKEY_DATA; i++) {
				if (p[1 + i] != '/')
					continue;
				memset(&key, 0, sizeof(key));
				memcpy(key.data, p + 1, i + 1);
				key.prefixlen = (__u32)(i + 2) * 8;
				if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY))
					fatal_env("cannot load the open filter (%s)", strerror(errno));
			}
		}
		p += len + (e ? 1 : 0);
	}
	if (paths) {
		memset(&key, 0, sizeof(key));
		key.data[0] = '/';
		key.prefixlen = 2 * 8; /* "/" is above every entry */
		if (bpf_map_update_elem(map_fd, &key, &one, BPF_ANY))
			fatal_env("cannot load the open filter (%s)", strerror(errno));
	}
}

/* ---- prerequisites --------------------------------------------------------------------- */

static int has_caps(void)
{
	if (geteuid() == 0)
		return 1;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	const unsigned long long cap_perfmon = 1ULL << 38, cap_bpf = 1ULL << 39;
	return (eff & cap_bpf) && (eff & cap_perfmon);
}

static int tracefs_mounted(void)
{
	struct stat st;
	return stat("/sys/kernel/tracing/events", &st) == 0 || stat("/sys/kernel/debug/tracing/events", &st) == 0;
}

static void check_prerequisites(void)
{
	struct stat st;
	if (!has_caps())
		fatal_env("needs root or the CAP_BPF and CAP_PERFMON capabilities — run as root, or grant them: "
			  "setcap cap_bpf,cap_perfmon+ep peregrine-sensor");
	if (stat("/sys/kernel/btf/vmlinux", &st) != 0)
		fatal_env("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing) — use a kernel built with "
			  "CONFIG_DEBUG_INFO_BTF=y (every major distribution since 2020 ships one)");
	if (!tracefs_mounted()) {
		/* Mount it ourselves when we may; distributions without systemd often do not. */
		if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0 || !tracefs_mounted())
			fatal_env("tracefs is not mounted — mount it: mount -t tracefs nodev /sys/kernel/tracing");
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0)
		fatal_env("this kernel has no BPF ring buffer — Linux 5.8 or newer is needed");
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	unsigned long long ring_bytes = 8ULL << 20;
	unsigned long long stats_ms = 1000;
	const char *syscalls = NULL;
	const char *open_read_paths = NULL;
	int check_only = 0;
	__u32 ignore[8];
	int nignore = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--check")) {
			check_only = 1;
		} else if (!strcmp(a, "--verbose")) {
			verbose = 1;
		} else if (!strcmp(a, "--syscalls") && v) {
			syscalls = v;
			i++;
		} else if (!strcmp(a, "--open-read-paths") && v) {
			open_read_paths = v;
			i++;
		} else if (!strcmp(a, "--ring-bytes") && v) {
			ring_bytes = parse_size(a, v);
			i++;
		} else if (!strcmp(a, "--stats-ms") && v) {
			stats_ms = parse_size(a, v);
			i++;
		} else if (!strcmp(a, "--ignore-pid") && v) {
			if (nignore == (int)(sizeof(ignore) / sizeof(ignore[0]))) {
				fprintf(stderr, "peregrine-sensor: at most %d --ignore-pid flags\n", nignore);
				return 1;
			}
			ignore[nignore++] = (__u32)parse_size(a, v);
			i++;
		} else if (!strcmp(a, "--list-syscalls")) {
			for (size_t k = 0; k < SC_COUNT; k++)
				printf("%s\n", sc_names[k].name);
			return 0;
		} else {
			fprintf(stderr, "peregrine-sensor: unknown or incomplete flag \"%s\" (flags: --syscalls LIST, "
					"--ring-bytes N, --ignore-pid PID, --open-read-paths LIST, --stats-ms N, --check, "
					"--verbose)\n", a);
			return 1;
		}
	}
	/* A ring's size must be a power of two and a multiple of the page size. */
	if (ring_bytes < 65536 || ring_bytes > (1ULL << 30) || (ring_bytes & (ring_bytes - 1))) {
		fprintf(stderr, "peregrine-sensor: --ring-bytes must be a power of two between 65536 and 1073741824, got %llu\n",
			ring_bytes);
		return 1;
	}

	__u16 interest[NR_MAX] = {0};
	__u16 interest32[NR32_MAX] = {0};
	if (syscalls) {
		const char *p = syscalls;
		while (*p) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			if (len) {
				const struct sc_name *sc = find_sc(p, len);
				if (!sc) {
					fprintf(stderr, "peregrine-sensor: --syscalls: unknown syscall \"%.*s\" (see --list-syscalls)\n",
						(int)len, p);
					return 1;
				}
				want(interest, interest32, sc);
			}
			p += len + (e ? 1 : 0);
		}
	} else {
		for (size_t k = 0; k < SC_COUNT; k++)
			want(interest, interest32, &sc_names[k]);
	}

	libbpf_set_print(libbpf_print);
	check_prerequisites();

	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		fatal_env("cannot count CPUs (/sys/devices/system/cpu/possible unreadable)");

	struct sensor_bpf *skel = sensor_bpf__open();
	if (!skel)
		fatal_env("cannot open the BPF object: %s", strerror(errno));
	skel->rodata->self_tgid = (__u32)getpid();
	skel->rodata->nr_execveat = PG_NR_execveat;
	skel->rodata->nr32_execveat = PG_NR32(execveat);
	skel->rodata->wake_bytes = ring_bytes / 16;
	skel->rodata->open_filter = open_read_paths != NULL;
	skel->rodata->comm_filter = has_comm_entries(open_read_paths);
	for (int i = 0; i < nignore; i++)
		skel->rodata->ignored_tgids[i] = ignore[i];
	bpf_map__set_max_entries(skel->maps.rings, (__u32)ncpu);
	/* The outer map's template must match the rings we insert, size included. */
	int tmpl = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, (__u32)ring_bytes, NULL);
	if (tmpl < 0)
		fatal_env("cannot create a %llu-byte ring buffer (%s) — lower --ring-bytes", ring_bytes, strerror(errno));
	bpf_map__set_inner_map_fd(skel->maps.rings, tmpl);

	int err = sensor_bpf__load(skel);
	if (err)
		fatal_env("the kernel refused the BPF programs (%s) — run with --verbose for the verifier log",
			  strerror(-err));

	struct ring_buffer *rb = NULL;
	stages = calloc((size_t)ncpu, sizeof(*stages));
	nstages = ncpu;
	close(tmpl);
	int outer = bpf_map__fd(skel->maps.rings);
	for (int cpu = 0; cpu < ncpu; cpu++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, (__u32)ring_bytes, NULL);
		if (fd < 0)
			fatal_env("cannot create a %llu-byte ring buffer (%s) — lower --ring-bytes", ring_bytes,
				  strerror(errno));
		__u32 key = (__u32)cpu;
		if (bpf_map_update_elem(outer, &key, &fd, BPF_ANY))
			fatal_env("cannot install the ring buffer of CPU %d (%s)", cpu, strerror(errno));
		if (!rb)
			rb = ring_buffer__new(fd, on_sample, &stages[cpu], NULL);
		else if (ring_buffer__add(rb, fd, on_sample, &stages[cpu]))
			rb = NULL;
		if (!rb)
			fatal_env("cannot map the ring buffer of CPU %d (%s)", cpu, strerror(errno));
	}

	if (open_read_paths) {
		/* the filter judges relative opens by the cwd, so it must see every change of it */
		for (size_t k = 0; k < SC_COUNT; k++)
			if (sc_names[k].id == PG_SC_CHDIR || sc_names[k].id == PG_SC_FCHDIR)
				want(interest, interest32, &sc_names[k]);
		load_open_paths(bpf_map__fd(skel->maps.open_paths), bpf_map__fd(skel->maps.open_comms), open_read_paths);
	}
	memcpy(skel->bss->interest, interest, sizeof(interest));
	memcpy(skel->bss->interest32, interest32, sizeof(interest32));

	err = sensor_bpf__attach(skel);
	if (err)
		fatal_env("cannot attach the BTF tracepoints (%s) — the kernel needs CONFIG_DEBUG_INFO_BTF and "
			  "BPF trampolines (Linux 5.8+)", strerror(-err));
	if (check_only) {
		sensor_bpf__destroy(skel);
		fputs("peregrine-sensor: ok\n", stderr);
		return 0;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	out_buf = malloc(OUT_CAP);

	struct pg_hello hello = {0};
	hello.version = PG_WIRE_VERSION;
	hello.ncpu = (__u32)ncpu;
	hello.boot_offset_ns = (__s64)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
	hello.ring_bytes = ring_bytes;
	emit_struct_frame(PG_EV_HELLO, &hello, sizeof(hello));
	out_flush();

	int cfd = bpf_map__fd(skel->maps.counters);
	__u64 *percpu = calloc((size_t)ncpu, sizeof(__u64));
	__u64 next_stats = clock_ns(CLOCK_BOOTTIME) + stats_ms * 1000000ULL;

	while (!stopping) {
		__u64 now = clock_ns(CLOCK_BOOTTIME);
		/* The kernel side mostly writes without waking us (BPF_RB_NO_WAKEUP: a wakeup per
		 * event would cost more than the event), so poll is a bounded sleep and every ring
		 * is drained explicitly each round. */
		err = ring_buffer__poll(rb, POLL_MS);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "peregrine-sensor: reading the ring buffers failed: %s\n", strerror(-err));
			return 1;
		}
		release(now > WATERMARK_NS ? now - WATERMARK_NS : 0);
		if (stats_ms && now >= next_stats) {
			struct pg_stats st = {0};
			for (__u32 k = 0; k < 3 * PG_CAT_COUNT; k++) {
				if (bpf_map_lookup_elem(cfd, &k, percpu))
					continue;
				__u64 sum = 0;
				for (int c = 0; c < ncpu; c++)
					sum += percpu[c];
				if (k < PG_CAT_COUNT)
					st.events[k] = sum;
				else if (k < 2 * PG_CAT_COUNT)
					st.drops[k - PG_CAT_COUNT] = sum;
				else
					st.filtered[k - 2 * PG_CAT_COUNT] = sum;
			}
			emit_struct_frame(PG_EV_STATS, &st, sizeof(st));
			next_stats = now + stats_ms * 1000000ULL;
		}
		if (out_len)
			out_flush();
	}
	/* Drain what is left, in order, before leaving. */
	ring_buffer__consume(rb);
	release(~0ULL);
	out_flush();
	ring_buffer__free(rb);
	sensor_bpf__destroy(skel);
	return 0;
}

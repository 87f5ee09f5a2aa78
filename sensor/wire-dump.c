// SPDX-License-Identifier: Apache-2.0
/*
 * wire-dump: the wire format as the C compiler sees it, for the TypeScript decoder's tests.
 *   wire-dump layout   JSON: struct offsets and sizes, enum values, the syscall table
 *   wire-dump frames   a fixed sequence of sample frames (values listed in the test)
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "wire.h"

#define F(S, f) printf("%s\"%s\":[%zu,%zu]", first++ ? "," : "", #f, offsetof(struct S, f), sizeof(((struct S *)0)->f))
#define STRUCT_BEGIN(S) do { int first = 0; printf("\"%s\":{\"size\":%zu,\"fields\":{", #S, sizeof(struct S));
#define STRUCT_END() printf("}}"); } while (0)

static void layout(void)
{
	printf("{\"version\":%d,\"maxParams\":%d,\"scMax\":%d,", PG_WIRE_VERSION, PG_MAX_PARAMS, PG_SC_MAX);
	STRUCT_BEGIN(pg_hdr);
	F(pg_hdr, len); F(pg_hdr, type); F(pg_hdr, nparams); F(pg_hdr, ts); F(pg_hdr, tgid); F(pg_hdr, tid);
	F(pg_hdr, ret); F(pg_hdr, sc); F(pg_hdr, cpu); F(pg_hdr, uid); F(pg_hdr, gid);
	STRUCT_END();
	printf(",");
	STRUCT_BEGIN(pg_exec_info);
	F(pg_exec_info, ppid); F(pg_exec_info, sid); F(pg_exec_info, pgid); F(pg_exec_info, vpid);
	F(pg_exec_info, vpgid); F(pg_exec_info, loginuid); F(pg_exec_info, uid); F(pg_exec_info, gid);
	F(pg_exec_info, euid); F(pg_exec_info, egid); F(pg_exec_info, tty); F(pg_exec_info, flags);
	F(pg_exec_info, cap_effective); F(pg_exec_info, start_ns); F(pg_exec_info, exe_ino);
	F(pg_exec_info, exe_ctime_ns); F(pg_exec_info, exe_mtime_ns); F(pg_exec_info, cap_permitted);
	F(pg_exec_info, cap_inheritable);
	STRUCT_END();
	printf(",");
	STRUCT_BEGIN(pg_fork_info);
	F(pg_fork_info, child_tgid); F(pg_fork_info, ppid); F(pg_fork_info, vpid); F(pg_fork_info, start_ns);
	STRUCT_END();
	printf(",");
	STRUCT_BEGIN(pg_sock_tuple);
	F(pg_sock_tuple, family); F(pg_sock_tuple, type); F(pg_sock_tuple, protocol); F(pg_sock_tuple, sport);
	F(pg_sock_tuple, dport); F(pg_sock_tuple, saddr); F(pg_sock_tuple, daddr);
	STRUCT_END();
	printf(",");
	STRUCT_BEGIN(pg_hello);
	F(pg_hello, version); F(pg_hello, ncpu); F(pg_hello, boot_offset_ns); F(pg_hello, ring_bytes);
	STRUCT_END();
	printf(",");
	STRUCT_BEGIN(pg_stats);
	F(pg_stats, events); F(pg_stats, drops); F(pg_stats, filtered);
	STRUCT_END();
	printf(",\"events\":{\"HELLO\":%d,\"SYSCALL\":%d,\"EXEC\":%d,\"FORK\":%d,\"EXIT\":%d,\"STATS\":%d}",
	       PG_EV_HELLO, PG_EV_SYSCALL, PG_EV_EXEC, PG_EV_FORK, PG_EV_EXIT, PG_EV_STATS);
	printf(",\"kinds\":{\"NONE\":%d,\"INT\":%d,\"STR\":%d,\"SADDR\":%d,\"HOW\":%d}", PG_A_NONE, PG_A_INT, PG_A_STR,
	       PG_A_SADDR, PG_A_HOW);
	printf(",\"extras\":{\"NONE\":%d,\"SOCK_ARG0\":%d,\"SOCK_RET\":%d,\"FD_PATH_ARG0\":%d,\"FD_PATH_ARG1\":%d,"
	       "\"FD_PATH_ARG0_ARG2\":%d}",
	       PG_X_NONE, PG_X_SOCK_ARG0, PG_X_SOCK_RET, PG_X_FD_PATH_ARG0, PG_X_FD_PATH_ARG1, PG_X_FD_PATH_ARG0_ARG2);
	printf(",\"categories\":{\"FILE\":%d,\"NET\":%d,\"PROC\":%d,\"OTHER\":%d,\"COUNT\":%d}", PG_CAT_FILE, PG_CAT_NET,
	       PG_CAT_PROC, PG_CAT_OTHER, PG_CAT_COUNT);
	printf(",\"exeFlags\":{\"FROM_MEMFD\":%u,\"UPPER_LAYER\":%u,\"WRITABLE\":%u}", PG_EXE_FROM_MEMFD,
	       PG_EXE_UPPER_LAYER, PG_EXE_WRITABLE);
	printf(",\"execParams\":%d,\"syscalls\":[", PG_EXEC_NPARAMS);
	int first = 0;
#define ROW(U, id, n, a0, a1, a2, a3, a4, a5, x, cat)                                                           \
	printf("%s{\"name\":\"%s\",\"id\":%d,\"args\":[%d,%d,%d,%d,%d,%d],\"extra\":%d,\"category\":%d}",         \
	       first++ ? "," : "", #n, id, PG_A_##a0, PG_A_##a1, PG_A_##a2, PG_A_##a3, PG_A_##a4, PG_A_##a5,     \
	       PG_X_##x, PG_CAT_##cat);
	PG_SYSCALLS(ROW)
#undef ROW
	printf("]}\n");
}

/* ---- sample frames ----------------------------------------------------------------------- */

static unsigned char buf[65536];
static size_t blen;
static size_t frame_start, lens_at, nparams;

static void begin(__u16 type, __u16 sc, __s64 ret, __u32 tgid, __u32 tid, unsigned n)
{
	struct pg_hdr h;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.nparams = (__u16)n;
	h.ts = 1000000000ULL * 42 + 7;
	h.tgid = tgid;
	h.tid = tid;
	h.ret = ret;
	h.sc = sc;
	h.cpu = 1;
	h.uid = 1000;
	h.gid = 1001;
	frame_start = blen;
	memcpy(buf + blen, &h, sizeof(h));
	blen += sizeof(h);
	lens_at = blen;
	blen += 2 * n;
	nparams = 0;
}

static void param(const void *p, size_t n)
{
	__u16 l = (__u16)n;
	memcpy(buf + lens_at + 2 * nparams++, &l, 2);
	memcpy(buf + blen, p, n);
	blen += n;
}

static void str(const char *s) { param(s, strlen(s) + 1); }
static void i64(__s64 v) { param(&v, 8); }

static void end(void)
{
	__u32 len = (__u32)(blen - frame_start);
	memcpy(buf + frame_start, &len, 4);
}

static void frames(void)
{
	struct pg_hello hello = {PG_WIRE_VERSION, 2, 1700000000000000000LL, 1 << 22};
	begin(PG_EV_HELLO, 0, 0, 10, 10, 1);
	param(&hello, sizeof(hello));
	end();

	/* openat(AT_FDCWD, "/etc/shadow", O_RDONLY|O_CLOEXEC, 0) = 3 */
	begin(PG_EV_SYSCALL, PG_SC_OPENAT, 3, 4242, 4243, 4);
	i64(-100);
	str("/etc/shadow");
	i64(02000000);
	i64(0);
	end();

	/* connect(5, {AF_INET 10.1.2.3:443}, 16) = -115 (EINPROGRESS) */
	begin(PG_EV_SYSCALL, PG_SC_CONNECT, -115, 4242, 4242, 4);
	i64(5);
	unsigned char sa[16] = {2, 0, 0x01, 0xbb, 10, 1, 2, 3};
	param(sa, sizeof(sa));
	i64(16);
	struct pg_sock_tuple t;
	memset(&t, 0, sizeof(t));
	t.family = 2;
	t.type = 1;
	t.protocol = 6;
	t.sport = 40000;
	t.dport = 443;
	unsigned char s4[4] = {192, 168, 0, 9}, d4[4] = {10, 1, 2, 3};
	memcpy(t.saddr, s4, 4);
	memcpy(t.daddr, d4, 4);
	param(&t, sizeof(t));
	end();

	struct pg_exec_info ei;
	memset(&ei, 0, sizeof(ei));
	ei.ppid = 4000; ei.sid = 3900; ei.pgid = 4242; ei.vpid = 1; ei.vpgid = 1; ei.loginuid = 1000;
	ei.uid = 1000; ei.gid = 1001; ei.euid = 0; ei.egid = 0; ei.tty = (136u << 20) | 3u;
	ei.flags = PG_EXE_FROM_MEMFD; ei.cap_effective = 0x1ffffffffffULL; ei.start_ns = 41000000000ULL;
	ei.exe_ino = 1234567; ei.exe_ctime_ns = 1600000000123456789LL; ei.exe_mtime_ns = -5;
	ei.cap_permitted = 0x3ULL; ei.cap_inheritable = 0x400ULL;
	begin(PG_EV_EXEC, PG_SC_EXECVE, 0, 4242, 4242, PG_EXEC_NPARAMS);
	param(&ei, sizeof(ei));
	str("/usr/bin/cat");
	str("/bin/cat");
	static const char args[] = "cat\0/etc/shadow\0";
	param(args, sizeof(args) - 1);
	str("/root");
	str("cat");
	str("session-1.scope");
	static const char env[] = "HOME=/root\0LANG=C.UTF-8\0";
	param(env, sizeof(env) - 1);
	end();

	struct pg_fork_info fi = {4243, 4242, 7, 0, 43000000000ULL};
	begin(PG_EV_FORK, 0, 0, 4242, 4242, 1);
	param(&fi, sizeof(fi));
	end();

	begin(PG_EV_EXIT, 0, 0, 4243, 4243, 0);
	end();

	/* a string the kernel could not read: length 0 */
	begin(PG_EV_SYSCALL, PG_SC_SYMLINKAT, 0, 4242, 4242, 3);
	str("/etc/shadow");
	i64(-100);
	param("", 0);
	end();

	struct pg_stats st;
	memset(&st, 0, sizeof(st));
	st.events[PG_CAT_FILE] = 1000; st.events[PG_CAT_NET] = 20; st.events[PG_CAT_PROC] = 5;
	st.drops[PG_CAT_FILE] = 3;
	st.filtered[PG_CAT_FILE] = 400;
	begin(PG_EV_STATS, 0, 0, 10, 10, 1);
	param(&st, sizeof(st));
	end();

	fwrite(buf, 1, blen, stdout);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "layout"))
		layout();
	else if (argc == 2 && !strcmp(argv[1], "frames"))
		frames();
	else {
		fprintf(stderr, "usage: wire-dump layout|frames\n");
		return 1;
	}
	return 0;
}

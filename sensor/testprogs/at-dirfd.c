// SPDX-License-Identifier: Apache-2.0
/* Test program for path arguments relative to a directory descriptor. Both directories are
 * opened read-only without O_DIRECTORY, opens the kernel-side filter leaves in the kernel
 * (no stable rule names /etc or the work directory), so userspace learns their paths only
 * from the events that use them.
 * Usage: at-dirfd WORKDIR
 *   1. linkat(/etc fd, "shadow", AT_FDCWD, WORKDIR/hard): a hard link over /etc/shadow
 *   2. with a WORKDIR fd: renameat "hard" -> "moved", symlinkat "sym" -> /etc/hostname,
 *      mkdirat "d", fchmodat "moved", then unlinkat "moved", "sym" and "d"
 * Raw syscalls, so the C library cannot pick another variant of a call. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failed;

static void check(long r, const char *what)
{
	if (r < 0) {
		perror(what);
		failed = 1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: at-dirfd WORKDIR\n");
		return 2;
	}
	char hard[4096];
	snprintf(hard, sizeof(hard), "%s/hard", argv[1]);

	int etc = open("/etc", O_RDONLY);
	check(etc, "open /etc");
	check(syscall(SYS_linkat, etc, "shadow", AT_FDCWD, hard, 0), "linkat");
	close(etc);

	int work = open(argv[1], O_RDONLY);
	check(work, "open WORKDIR");
	check(syscall(SYS_renameat, work, "hard", work, "moved"), "renameat");
	check(syscall(SYS_symlinkat, "/etc/hostname", work, "sym"), "symlinkat");
	check(syscall(SYS_mkdirat, work, "d", 0700), "mkdirat");
	check(syscall(SYS_fchmodat, work, "moved", 0600), "fchmodat");
	check(syscall(SYS_unlinkat, work, "moved", 0), "unlinkat moved");
	check(syscall(SYS_unlinkat, work, "sym", 0), "unlinkat sym");
	check(syscall(SYS_unlinkat, work, "d", AT_REMOVEDIR), "unlinkat d");
	close(work);
	return failed;
}

// SPDX-License-Identifier: Apache-2.0
/* Test program for ia32 syscalls (`int $0x80` from a 64-bit program, as a 32-bit program
 * makes them): the kernel runs them with ia32 numbers and arguments in ebx, ecx, edx...
 * Built static and not position-independent, so its buffers sit below 4 GiB where 32-bit
 * pointers reach them.
 *   ia32-calls FILE LINK   ia32 open(FILE), ia32 openat(AT_FDCWD, FILE), ia32 symlink(FILE,
 *                          LINK), each result closed natively
 * x86_64 only. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char file[4096];
static char link_path[4096];

static long ia32(long nr, long a, long b, long c, long d)
{
	long ret;
	asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strlen(argv[1]) >= sizeof(file) || strlen(argv[2]) >= sizeof(link_path)) {
		fprintf(stderr, "usage: ia32-calls FILE LINK\n");
		return 2;
	}
	strcpy(file, argv[1]);
	strcpy(link_path, argv[2]);
	long fd = ia32(5 /* open */, (long)file, O_RDONLY, 0, 0);
	if (fd >= 0)
		close((int)fd);
	fd = ia32(295 /* openat */, AT_FDCWD, (long)file, O_RDONLY, 0);
	if (fd >= 0)
		close((int)fd);
	long r = ia32(83 /* symlink */, (long)file, (long)link_path, 0, 0);
	if (r < 0) {
		fprintf(stderr, "ia32-calls: symlink failed (%ld)\n", r);
		return 1;
	}
	return 0;
}

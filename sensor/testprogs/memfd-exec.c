// SPDX-License-Identifier: Apache-2.0
/* Test program: runs a binary from a memfd (fileless execution), or, with "plain", from disk.
 * Usage: memfd-exec BINARY [plain] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	const char *src = argc > 1 ? argv[1] : "/bin/true";
	if (argc > 2 && strcmp(argv[2], "plain") == 0) {
		char *args[] = {"pg-plain", NULL};
		execve(src, args, environ);
		perror("execve");
		return 127;
	}
	int in = open(src, O_RDONLY);
	struct stat st;
	if (in < 0 || fstat(in, &st) != 0) {
		perror(src);
		return 1;
	}
	int fd = memfd_create("pg-payload", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		return 1;
	}
	off_t off = 0;
	while (off < st.st_size)
		if (sendfile(fd, in, &off, (size_t)(st.st_size - off)) <= 0) {
			perror("sendfile");
			return 1;
		}
	char *args[] = {"pg-fileless", NULL};
	fexecve(fd, args, environ);
	perror("fexecve");
	return 127;
}

// SPDX-License-Identifier: Apache-2.0
/* Test program for the kernel-side open filter: descriptors whose open the sensor may leave
 * in the kernel, then used where userspace needs their names. Each step dups the descriptor
 * it is about to use onto a fixed number (so a rule on dup2 can name it), then uses it.
 * Usage: fd-paths MARKER   (MARKER only makes the command line unique)
 *   1. /etc/hostname opened read-only (filtered), dup2 -> 100: fd.name must be /etc/hostname
 *   2. /etc opened without O_DIRECTORY (filtered), openat(dirfd, "shadow")
 *   3. /etc/shadow opened (reported) and closed, /etc/hostname opened on the same number
 *      (filtered), dup2 -> 101: fd.name must be /etc/hostname, not the closed /etc/shadow
 *   4. fchdir to a filtered /etc descriptor, then open("shadow") relative to it
 *   5. 2000 filtered opens and closes of /etc/hostname
 *   6. chdir /tmp, 1000 opens and closes of a relative path there (filtered: no rule entry
 *      lies under /tmp/)
 *   7. chdir /etc, open("shadow"): the cwd is judged again, and this open is reported
 *   8. chroot into a fresh directory holding etc/shadow, chdir /etc, open("shadow"): the
 *      cwd is judged as the process names it (/etc), so this open is reported too */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int fd = open("/etc/hostname", O_RDONLY);
	dup2(fd, 100);
	close(fd);

	int dir = open("/etc", O_RDONLY);
	int s = openat(dir, "shadow", O_RDONLY);
	close(s);
	close(dir);

	int a = open("/etc/shadow", O_RDONLY);
	close(a);
	int b = open("/etc/hostname", O_RDONLY);
	if (a != b)
		fprintf(stderr, "fd-paths: descriptor not reused (%d, %d)\n", a, b);
	dup2(b, 101);
	close(b);

	dir = open("/etc", O_RDONLY);
	if (fchdir(dir) == 0) {
		s = open("shadow", O_RDONLY);
		close(s);
	}
	close(dir);

	for (int i = 0; i < 2000; i++)
		close(open("/etc/hostname", O_RDONLY));

	char name[64];
	snprintf(name, sizeof(name), "fd-paths-%d", (int)getpid());
	if (chdir("/tmp") == 0) {
		close(open(name, O_WRONLY | O_CREAT, 0600));
		for (int i = 0; i < 1000; i++)
			close(open(name, O_RDONLY));
		unlink(name);
	}
	if (chdir("/etc") == 0)
		close(open("shadow", O_RDONLY));

	char root[64], etc[80], shadow[96];
	snprintf(root, sizeof(root), "/tmp/fd-paths-root-%d", (int)getpid());
	snprintf(etc, sizeof(etc), "%s/etc", root);
	snprintf(shadow, sizeof(shadow), "%s/shadow", etc);
	mkdir(root, 0700);
	mkdir(etc, 0700);
	close(open(shadow, O_WRONLY | O_CREAT, 0600));
	int top = open("/", O_RDONLY | O_DIRECTORY);
	if (chroot(root) == 0 && chdir("/etc") == 0) {
		close(open("shadow", O_RDONLY));
		/* back out to clean up */
		if (fchdir(top) == 0 && chroot(".") == 0) {
			unlink(shadow);
			rmdir(etc);
			rmdir(root);
		}
	}
	return 0;
}

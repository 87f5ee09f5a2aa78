// SPDX-License-Identifier: Apache-2.0
/* Test program for container-scoped fields, built static so it runs inside a bare root.
 *   in-container PROCS ROOT UID GID FILE
 *     writes its pid to each cgroup.procs file in PROCS (":"-separated; "-" for none), so
 *     its cgroups name it like a container's; chroots into ROOT (which holds a copy of this
 *     program as /probe and the container's /etc/passwd and /etc/group), and runs
 *     /probe --inside UID GID FILE there
 *   probe --inside UID GID FILE
 *     takes the ids (setresgid, setresuid), opens FILE read-only (or, for FILE tcp:PORT,
 *     connects to 127.0.0.1:PORT and puts the connection on stdin and stdout), and stays
 *     2 s (as a container's processes stay: the detector reads the container's files
 *     through it) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--inside")) {
		gid_t gid = (gid_t)atoi(argv[3]);
		uid_t uid = (uid_t)atoi(argv[2]);
		if (setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
			perror("probe: set ids");
			return 1;
		}
		if (!strncmp(argv[4], "tcp:", 4)) {
			/* a reverse shell's move: a connection on stdin and stdout */
			struct sockaddr_in sa;
			memset(&sa, 0, sizeof(sa));
			sa.sin_family = AF_INET;
			sa.sin_port = htons((unsigned short)atoi(argv[4] + 4));
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			int s = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
				perror("connect");
				return 1;
			}
			dup2(s, 0);
			dup2(s, 1);
		} else {
			int fd = open(argv[4], O_RDONLY);
			if (fd < 0) {
				perror(argv[4]);
				return 1;
			}
			close(fd);
		}
		sleep(2);
		return 0;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: in-container PROCS ROOT UID GID FILE\n");
		return 2;
	}
	char pid[32];
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	char *procs = strcmp(argv[1], "-") ? argv[1] : NULL;
	for (char *p = procs ? strtok(procs, ":") : NULL; p; p = strtok(NULL, ":")) {
		int f = open(p, O_WRONLY);
		if (f < 0 || write(f, pid, strlen(pid)) < 0) {
			perror(p);
			return 1;
		}
		close(f);
	}
	if (chroot(argv[2]) || chdir("/")) {
		perror("chroot");
		return 1;
	}
	execl("/probe", "probe", "--inside", argv[3], argv[4], argv[5], (char *)NULL);
	perror("exec /probe");
	return 1;
}

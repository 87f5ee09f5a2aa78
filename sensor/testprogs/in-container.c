// SPDX-License-Identifier: Apache-2.0
/* Test program for container-scoped fields and container rules, built static so it runs
 * inside a bare root.
 *   in-container PROCS ROOT UID GID ACTION
 *     writes its pid to each cgroup.procs file in PROCS (":"-separated; "-" for none), so
 *     its cgroups name it like a container's; chroots into ROOT (which holds a copy of this
 *     program as /probe and the container's /etc/passwd and /etc/group), and runs
 *     /probe --inside UID GID ACTION there
 *   probe --inside UID GID ACTION
 *     takes the ids (setresgid, setresuid), does ACTION, and stays $PG_PROBE_STAY seconds
 *     (default 2; a container's processes stay: the detector reads the container's files
 *     through them). ACTION is
 *       FILE             open FILE read-only
 *       write:FILE       open FILE for writing, creating it
 *       tcp:PORT         connect to 127.0.0.1:PORT and put the connection on stdin, stdout
 *       packet           create a packet socket
 *       module:FILE      ask the kernel to load FILE as a module (it refuses: not a module)
 *       exec:PATH,ARG... run PATH with these arguments (argv[0] is PATH's last component) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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
		const char *action = argv[4];
		if (!strncmp(action, "exec:", 5)) {
			char *spec = strdup(action + 5);
			char *args[16];
			int n = 0;
			for (char *a = strtok(spec, ","); a && n < 15; a = strtok(NULL, ","))
				args[n++] = a;
			args[n] = NULL;
			char *path = args[0];
			char *slash = strrchr(path, '/');
			args[0] = slash ? slash + 1 : path;
			execv(path, args);
			perror(path);
			return 1;
		}
		if (!strncmp(action, "module:", 7)) {
			int fd = open(action + 7, O_RDONLY);
			if (fd < 0) {
				perror(action + 7);
				return 1;
			}
			syscall(SYS_finit_module, fd, "", 0);
			close(fd);
		} else if (!strcmp(action, "packet")) {
			/* refused without CAP_NET_RAW; the attempt is what rules see */
			int p = socket(AF_PACKET, SOCK_RAW, 0);
			if (p >= 0)
				close(p);
		} else if (!strncmp(action, "write:", 6)) {
			int fd = open(action + 6, O_WRONLY | O_CREAT, 0600);
			if (fd < 0) {
				perror(action + 6);
				return 1;
			}
			close(fd);
		} else if (!strncmp(argv[4], "tcp:", 4)) {
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
		const char *stay = getenv("PG_PROBE_STAY");
		sleep(stay ? (unsigned)atoi(stay) : 2);
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

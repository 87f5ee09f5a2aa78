// SPDX-License-Identifier: Apache-2.0
/* Test program for sockets opened before the detector started: connects to
 * 127.0.0.1:PORT, prints "ready", waits for SIGUSR1, then dup2s the socket onto
 * descriptor 100 (as a reverse shell puts its socket on stdin) and exits.
 * Usage: hold-socket PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hold-socket PORT\n");
		return 2;
	}
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL); /* taken by sigwait below, never delivered early */
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int sig;
	sigwait(&usr1, &sig);
	dup2(s, 100);
	return 0;
}

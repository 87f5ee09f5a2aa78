// SPDX-License-Identifier: Apache-2.0
/* Test program for outbound connections: moves into a fresh network namespace whose
 * loopback holds ADDR (so any address can be "remote" without leaving the machine), then
 * listens on ADDR:PORT, connects to it and accepts. Needs root. The tests run copies of it
 * under other names (ssh).
 * Usage: connect-to ADDR PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: connect-to ADDR PORT\n");
		return 2;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "connect-to: bad address %s\n", argv[1]);
		return 2;
	}
	if (unshare(CLONE_NEWNET)) {
		perror("unshare");
		return 1;
	}
	/* the new namespace's loopback: ADDR as its address, and up */
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	memcpy(&ifr.ifr_addr, &sa, sizeof(sa));
	int ctl = socket(AF_INET, SOCK_DGRAM, 0);
	if (ioctl(ctl, SIOCSIFADDR, &ifr)) {
		perror("SIOCSIFADDR");
		return 1;
	}
	if (ioctl(ctl, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(ctl, SIOCSIFFLAGS, &ifr);
	}
	close(ctl);

	int one = 1;
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv, 1)) {
		perror("listen");
		return 1;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return 1;
	}
	int a = accept(srv, NULL, NULL);
	close(a);
	close(c);
	close(srv);
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/* Test program for socket tuples: every connection stays on the loopback.
 *   1. a TCP listener on 127.0.0.1 (an ephemeral port), an IPv4 client connects, accepted
 *   2. an IPv6 socket connects to ::ffff:127.0.0.1 on the same port (IPv4-mapped), accepted
 *   3. an unconnected UDP socket sends twice to a UDP socket bound on 127.0.0.1
 * Prints "tcp PORT udp PORT" so the test knows the ports. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

static int bound(int type, struct sockaddr_in *sa)
{
	int s = socket(AF_INET, type, 0);
	socklen_t len = sizeof(*sa);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)sa, sizeof(*sa)) || getsockname(s, (struct sockaddr *)sa, &len))
		return -1;
	return s;
}

int main(void)
{
	struct sockaddr_in srv_addr, udp_addr;
	int srv = bound(SOCK_STREAM, &srv_addr);
	if (srv < 0 || listen(srv, 4))
		return fail("listen");

	int c4 = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c4, (struct sockaddr *)&srv_addr, sizeof(srv_addr)))
		return fail("connect v4");
	int a4 = accept(srv, NULL, NULL);

	struct sockaddr_in6 mapped;
	memset(&mapped, 0, sizeof(mapped));
	mapped.sin6_family = AF_INET6;
	mapped.sin6_port = srv_addr.sin_port;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
	int c6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (connect(c6, (struct sockaddr *)&mapped, sizeof(mapped)))
		return fail("connect v4-mapped");
	int a6 = accept(srv, NULL, NULL);

	int udp_srv = bound(SOCK_DGRAM, &udp_addr);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp_srv < 0 || u < 0)
		return fail("udp socket");
	for (int i = 0; i < 2; i++)
		if (sendto(u, "x", 1, 0, (struct sockaddr *)&udp_addr, sizeof(udp_addr)) != 1)
			return fail("sendto");

	printf("tcp %d udp %d\n", ntohs(srv_addr.sin_port), ntohs(udp_addr.sin_port));
	close(c4);
	close(a4);
	close(c6);
	close(a6);
	close(u);
	close(udp_srv);
	close(srv);
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/* Test program for rules on setuid: drops to RUN_AS (real, effective and saved ids, through
 * setresuid), then calls setuid(TARGET) once. Exits 0 whether that call succeeds or not: a
 * refused setuid is an event the rules see too.
 * Usage: setuid-as RUN_AS TARGET */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: setuid-as RUN_AS TARGET\n");
		return 2;
	}
	uid_t run_as = (uid_t)atoi(argv[1]);
	if (setresuid(run_as, run_as, run_as) != 0) {
		perror("setresuid");
		return 1;
	}
	/* the raw call: the C library's setuid may signal every thread first */
	syscall(SYS_setuid, (uid_t)atoi(argv[2]));
	return 0;
}

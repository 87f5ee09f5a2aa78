// SPDX-License-Identifier: Apache-2.0
/*
 * Syscall storm for the sensor benchmark: opens and closes a file in a loop, two syscalls
 * (openat + close) per iteration.
 *   storm FILE ITERATIONS [EVENTS_PER_SECOND]
 * With a rate, iterations are paced to that many syscalls per second (0: as fast as it can).
 * Prints one JSON line: iterations, wall seconds, CPU seconds (user + system) of the storm.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: storm FILE ITERATIONS [EVENTS_PER_SECOND]\n");
		return 1;
	}
	const char *path = argv[1];
	long iterations = atol(argv[2]);
	double rate = argc > 3 ? atof(argv[3]) : 0;
	double t0 = now();
	for (long i = 0; i < iterations; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
		if (rate > 0 && (i & 255) == 255) {
			double due = t0 + (2.0 * (i + 1)) / rate;
			double ahead = due - now();
			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	double wall = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"iterations\":%ld,\"syscalls\":%ld,\"wall\":%.6f,\"cpu\":%.6f}\n", iterations, 2 * iterations, wall, cpu);
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/* Test program for the namespace and bpf syscalls the incubating rules watch:
 *   1. setns into its own UTS namespace, through /proc/self/ns/uts opened read-only
 *   2. unshare(CLONE_NEWUTS)
 *   3. bpf(BPF_PROG_LOAD) with an empty attribute (refused: the call is what rules see)
 * Raw syscalls, so the C library cannot pick another variant of a call. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	int ns = open("/proc/self/ns/uts", O_RDONLY);
	if (ns < 0 || syscall(SYS_setns, ns, CLONE_NEWUTS) != 0) {
		perror("setns");
		return 1;
	}
	close(ns);
	if (syscall(SYS_unshare, CLONE_NEWUTS) != 0) {
		perror("unshare");
		return 1;
	}
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	return 0;
}

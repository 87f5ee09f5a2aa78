// SPDX-License-Identifier: Apache-2.0
/* Test program: forks a child and attaches to it with PTRACE_ATTACH; with "none" it only
 * forks and reaps the child; with "traceme" it asks to be traced itself (PTRACE_TRACEME,
 * the anti-debugging trick: a process already traced cannot be). Usage: ptrace-attach
 * [none|traceme] */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "traceme") == 0)
		return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 1;
	int attach = !(argc > 1 && strcmp(argv[1], "none") == 0);
	pid_t child = fork();
	if (child == 0) {
		sleep(5);
		_exit(0);
	}
	usleep(50000);
	int rc = 0;
	if (attach) {
		if (ptrace(PTRACE_ATTACH, child, NULL, NULL) != 0) {
			perror("ptrace");
			rc = 1;
		} else {
			waitpid(child, NULL, 0);
			ptrace(PTRACE_DETACH, child, NULL, NULL);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return rc;
}

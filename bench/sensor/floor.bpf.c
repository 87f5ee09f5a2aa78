// SPDX-License-Identifier: GPL-2.0
/*
 * The hook's floor: a sys_exit program that does nothing. Attaching any sys_exit program
 * sends every syscall through the kernel's traced exit path; this measures that alone,
 * without the sensor's dispatcher.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

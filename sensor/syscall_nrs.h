/* SPDX-License-Identifier: Apache-2.0 */
/* Native syscall numbers of the captured syscalls, -1 where this architecture lacks one
 * (arm64 has no open, creat, fork, ...). Mirrors the PG_SYSCALLS list in wire.h. */
#ifndef PEREGRINE_SYSCALL_NRS_H
#define PEREGRINE_SYSCALL_NRS_H
#include <sys/syscall.h>

#ifdef __NR_open
#define PG_NR_open __NR_open
#else
#define PG_NR_open (-1)
#endif
#ifdef __NR_openat
#define PG_NR_openat __NR_openat
#else
#define PG_NR_openat (-1)
#endif
#ifdef __NR_openat2
#define PG_NR_openat2 __NR_openat2
#else
#define PG_NR_openat2 (-1)
#endif
#ifdef __NR_creat
#define PG_NR_creat __NR_creat
#else
#define PG_NR_creat (-1)
#endif
#ifdef __NR_execve
#define PG_NR_execve __NR_execve
#else
#define PG_NR_execve (-1)
#endif
#ifdef __NR_execveat
#define PG_NR_execveat __NR_execveat
#else
#define PG_NR_execveat (-1)
#endif
#ifdef __NR_connect
#define PG_NR_connect __NR_connect
#else
#define PG_NR_connect (-1)
#endif
#ifdef __NR_accept
#define PG_NR_accept __NR_accept
#else
#define PG_NR_accept (-1)
#endif
#ifdef __NR_accept4
#define PG_NR_accept4 __NR_accept4
#else
#define PG_NR_accept4 (-1)
#endif
#ifdef __NR_bind
#define PG_NR_bind __NR_bind
#else
#define PG_NR_bind (-1)
#endif
#ifdef __NR_listen
#define PG_NR_listen __NR_listen
#else
#define PG_NR_listen (-1)
#endif
#ifdef __NR_socket
#define PG_NR_socket __NR_socket
#else
#define PG_NR_socket (-1)
#endif
#ifdef __NR_sendto
#define PG_NR_sendto __NR_sendto
#else
#define PG_NR_sendto (-1)
#endif
#ifdef __NR_sendmsg
#define PG_NR_sendmsg __NR_sendmsg
#else
#define PG_NR_sendmsg (-1)
#endif
#ifdef __NR_symlink
#define PG_NR_symlink __NR_symlink
#else
#define PG_NR_symlink (-1)
#endif
#ifdef __NR_symlinkat
#define PG_NR_symlinkat __NR_symlinkat
#else
#define PG_NR_symlinkat (-1)
#endif
#ifdef __NR_link
#define PG_NR_link __NR_link
#else
#define PG_NR_link (-1)
#endif
#ifdef __NR_linkat
#define PG_NR_linkat __NR_linkat
#else
#define PG_NR_linkat (-1)
#endif
#ifdef __NR_unlink
#define PG_NR_unlink __NR_unlink
#else
#define PG_NR_unlink (-1)
#endif
#ifdef __NR_unlinkat
#define PG_NR_unlinkat __NR_unlinkat
#else
#define PG_NR_unlinkat (-1)
#endif
#ifdef __NR_rename
#define PG_NR_rename __NR_rename
#else
#define PG_NR_rename (-1)
#endif
#ifdef __NR_renameat
#define PG_NR_renameat __NR_renameat
#else
#define PG_NR_renameat (-1)
#endif
#ifdef __NR_renameat2
#define PG_NR_renameat2 __NR_renameat2
#else
#define PG_NR_renameat2 (-1)
#endif
#ifdef __NR_mkdir
#define PG_NR_mkdir __NR_mkdir
#else
#define PG_NR_mkdir (-1)
#endif
#ifdef __NR_mkdirat
#define PG_NR_mkdirat __NR_mkdirat
#else
#define PG_NR_mkdirat (-1)
#endif
#ifdef __NR_chmod
#define PG_NR_chmod __NR_chmod
#else
#define PG_NR_chmod (-1)
#endif
#ifdef __NR_fchmod
#define PG_NR_fchmod __NR_fchmod
#else
#define PG_NR_fchmod (-1)
#endif
#ifdef __NR_fchmodat
#define PG_NR_fchmodat __NR_fchmodat
#else
#define PG_NR_fchmodat (-1)
#endif
#ifdef __NR_dup
#define PG_NR_dup __NR_dup
#else
#define PG_NR_dup (-1)
#endif
#ifdef __NR_dup2
#define PG_NR_dup2 __NR_dup2
#else
#define PG_NR_dup2 (-1)
#endif
#ifdef __NR_dup3
#define PG_NR_dup3 __NR_dup3
#else
#define PG_NR_dup3 (-1)
#endif
#ifdef __NR_ptrace
#define PG_NR_ptrace __NR_ptrace
#else
#define PG_NR_ptrace (-1)
#endif
#ifdef __NR_init_module
#define PG_NR_init_module __NR_init_module
#else
#define PG_NR_init_module (-1)
#endif
#ifdef __NR_finit_module
#define PG_NR_finit_module __NR_finit_module
#else
#define PG_NR_finit_module (-1)
#endif
#ifdef __NR_mount
#define PG_NR_mount __NR_mount
#else
#define PG_NR_mount (-1)
#endif
#ifdef __NR_umount2
#define PG_NR_umount2 __NR_umount2
#else
#define PG_NR_umount2 (-1)
#endif
#ifdef __NR_setuid
#define PG_NR_setuid __NR_setuid
#else
#define PG_NR_setuid (-1)
#endif
#ifdef __NR_setgid
#define PG_NR_setgid __NR_setgid
#else
#define PG_NR_setgid (-1)
#endif
#ifdef __NR_setreuid
#define PG_NR_setreuid __NR_setreuid
#else
#define PG_NR_setreuid (-1)
#endif
#ifdef __NR_setregid
#define PG_NR_setregid __NR_setregid
#else
#define PG_NR_setregid (-1)
#endif
#ifdef __NR_setresuid
#define PG_NR_setresuid __NR_setresuid
#else
#define PG_NR_setresuid (-1)
#endif
#ifdef __NR_setresgid
#define PG_NR_setresgid __NR_setresgid
#else
#define PG_NR_setresgid (-1)
#endif
#ifdef __NR_memfd_create
#define PG_NR_memfd_create __NR_memfd_create
#else
#define PG_NR_memfd_create (-1)
#endif
#ifdef __NR_clone
#define PG_NR_clone __NR_clone
#else
#define PG_NR_clone (-1)
#endif
#ifdef __NR_clone3
#define PG_NR_clone3 __NR_clone3
#else
#define PG_NR_clone3 (-1)
#endif
#ifdef __NR_fork
#define PG_NR_fork __NR_fork
#else
#define PG_NR_fork (-1)
#endif
#ifdef __NR_vfork
#define PG_NR_vfork __NR_vfork
#else
#define PG_NR_vfork (-1)
#endif
#ifdef __NR_close
#define PG_NR_close __NR_close
#else
#define PG_NR_close (-1)
#endif
#ifdef __NR_chdir
#define PG_NR_chdir __NR_chdir
#else
#define PG_NR_chdir (-1)
#endif
#ifdef __NR_fchdir
#define PG_NR_fchdir __NR_fchdir
#else
#define PG_NR_fchdir (-1)
#endif
#ifdef __NR_setsid
#define PG_NR_setsid __NR_setsid
#else
#define PG_NR_setsid (-1)
#endif
#ifdef __NR_rmdir
#define PG_NR_rmdir __NR_rmdir
#else
#define PG_NR_rmdir (-1)
#endif
#ifdef __NR_umount
#define PG_NR_umount __NR_umount
#else
#define PG_NR_umount (-1)
#endif
#ifdef __NR_setns
#define PG_NR_setns __NR_setns
#else
#define PG_NR_setns (-1)
#endif
#ifdef __NR_unshare
#define PG_NR_unshare __NR_unshare
#else
#define PG_NR_unshare (-1)
#endif
#ifdef __NR_bpf
#define PG_NR_bpf __NR_bpf
#else
#define PG_NR_bpf (-1)
#endif

#endif

// Makes io_uring unavailable to the calling process, as the kernel or a
// container would: a seccomp filter answers io_uring_setup with `err`
// (EPERM: a container's filter or kernel.io_uring_disabled; ENOSYS: a kernel
// without io_uring). Irreversible and inherited across fork and exec, so
// call it only in a child process.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>

namespace torcon::testing {

// False if the filter could not be installed. It looks at the syscall
// number only, which is enough for a process calling through its native ABI.
inline bool refuse_io_uring(int err = EPERM) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

}  // namespace torcon::testing

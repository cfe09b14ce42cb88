// without_io_uring COMMAND [ARGS...]: runs COMMAND in a process where
// io_uring_setup fails with EPERM, as in a container whose seccomp filter
// forbids io_uring (support/refuse_io_uring.hpp). ctest runs test binaries
// through it to check that their io_uring cases skip there, never fail.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "support/refuse_io_uring.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: without_io_uring COMMAND [ARGS...]\n");
    return 2;
  }
  if (!torcon::testing::refuse_io_uring(EPERM)) {
    std::fprintf(stderr, "without_io_uring: cannot install the seccomp filter: %s\n",
                 std::strerror(errno));
    return 2;
  }
  ::execvp(argv[1], argv + 1);
  std::fprintf(stderr, "without_io_uring: %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}

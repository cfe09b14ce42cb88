// --version, the same for every tool: "NAME VERSION" on stdout, exit 0. The
// version is torcon's (project() in CMakeLists.txt, via torcon/version.hpp).
#pragma once

#include <cstdio>
#include <string_view>

#include "torcon/version.hpp"

namespace torcon::tools {

// True (after printing) when the first argument is --version.
inline bool print_version_if_asked(int argc, char** argv, const char* tool) {
  if (argc < 2 || std::string_view(argv[1]) != "--version") return false;
  std::printf("%s %s\n", tool, TORCON_VERSION_STRING);
  return true;
}

}  // namespace torcon::tools

// torcon::library_version(): compiled into libtorcon itself, so a program can
// tell which library it runs with when that is a shared one.
#include "torcon/version.hpp"

namespace torcon {

const char* library_version() noexcept { return TORCON_VERSION_STRING; }

}  // namespace torcon

// Links torcon as a subproject; the configure-time checks are the test.
#include "torcon/version.hpp"

int main() { return TORCON_VERSION_MAJOR == 0 ? 0 : 1; }

// Checks of caller input shared by the onion commands: everything that ends
// up on the control stream passes one of these first.
#pragma once

#include <string>
#include <string_view>

#include "torcon/expected.hpp"
#include "torcon/onion_service.hpp"

namespace torcon {

// "VIRT" or "VIRT,TARGET" for ADD_ONION's Port=, after checking the ports
// (1-65535) and the target's form.
Expected<std::string> onion_port_argument(const OnionPort& port);

// An HSDir as HSFETCH/HSPOST's SERVER= takes it: "$" + 40 hex digits,
// optionally "~nick" or "=nick". Written with the "$".
Expected<std::string> hsdir_server_argument(std::string_view server);

}  // namespace torcon

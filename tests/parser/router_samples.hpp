// Realistic router status entries shared by router_status_test.cpp and
// router_entry_test.cpp (the eager and the lazy reader must agree on them).
#pragma once

#include <string>
#include <vector>

namespace torcon::test {

inline const std::vector<std::string> kEntry1 = {
    "r seele +/8AECAwQFBgcICQoLDA0ODw/v8 AAECAwQFBgcICQoLDA0ODxAREhM 2024-01-15 12:34:56 "
    "192.0.2.10 9001 0",
    "a [2001:db8::1]:9001",
    "a [2001:db8:0:1::abcd]:443",
    "s Exit Fast FutureFlag Guard HSDir Running Stable V2Dir Valid",
    "v Tor 0.4.8.9",
    "pr Conflux=1 Cons=1-2 Desc=1-2 DirCache=2 FlowCtrl=1-2 HSDir=2 HSIntro=4-5 HSRend=1-2 "
    "Link=1-5 LinkAuth=1,3 Microdesc=1-2 Padding=2 Relay=1-4",
    "w Bandwidth=1234 Measured=2000",
    "p accept 80,443",
    "m 13,14,15 sha256=q2hK8kcVbBW9RWbSk0hJnBsVGgy5zz8tcYh2i9D0aKM",
    "zz unknown-keyword line from a future tor",
};

inline const std::vector<std::string> kEntry2 = {
    "r Unmeasured ejyV6NEgT2uwwuT2qBk7XX+Ro8U //79/Pv6+fj39vX08/Lx8O/u7ew 2000-02-29 23:59:59 "
    "255.255.255.254 65535 80",
    "s Running Valid",
    "w Bandwidth=20 Unmeasured=1 FutureWeight=3",
    "p reject 1-65535",
};

}  // namespace torcon::test

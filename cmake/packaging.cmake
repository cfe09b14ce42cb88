# cpack -G DEB (from a build configured with -DCMAKE_INSTALL_PREFIX=/usr, and
# -DBUILD_SHARED_LIBS=ON for the usual Debian split):
#   libtorcon<major.minor>  the shared libraries (runtime component)
#   libtorcon-dev           headers, the .so links or static archives, CMake and pkg-config files
#   torcon-tools            torcon-ctl, torcon-testnet, torcon-parse, torcon-gen
# Library dependencies come from dpkg-shlibdeps; -dev adds the -dev packages
# a static libtorcon needs.
set(CPACK_PACKAGE_NAME torcon)
set(CPACK_PACKAGE_VENDOR "torcon")
set(CPACK_PACKAGE_CONTACT "torcon developers <torcon@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")
# dpkg-shlibdeps must find libtorcon.so.X in the package being built.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(soname_version ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
set(lib_package libtorcon${soname_version})
set(CPACK_COMPONENTS_ALL development tools)
if(BUILD_SHARED_LIBS)
  list(APPEND CPACK_COMPONENTS_ALL runtime)
endif()

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${lib_package})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "torcon: asynchronous Tor controller library (shared libraries)\n libtorcon and libtorcon-testnet.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libtorcon-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
    "torcon: asynchronous Tor controller library (development files)\n Headers, CMake package (find_package(torcon)) and pkg-config files.")
if(BUILD_SHARED_LIBS)
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${lib_package} (= ${PROJECT_VERSION})")
else()
  # A static libtorcon is linked together with its dependencies' -dev files.
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
      "libabsl-dev, liburing-dev, libssl-dev, libsodium-dev, libmaxminddb-dev, pkg-config")
endif()

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME torcon-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "tor, tor-geoipdb")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "torcon: command-line tools for Tor's control port\n torcon-ctl, torcon-monitor, torcon-testnet, torcon-parse, torcon-gen, torcon-onion.")

include(CPack)

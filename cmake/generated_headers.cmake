# Headers generated from the build's settings into <build>/include/torcon/
# and installed with the rest of the public headers.
#   version.hpp: the version of project() (CMakeLists.txt), the only place it is set.
#   export.hpp:  TORCON_API, which marks what libtorcon exports.
if(BUILD_SHARED_LIBS)
  set(TORCON_SHARED 1)
else()
  set(TORCON_SHARED 0)
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.hpp.in
               ${PROJECT_BINARY_DIR}/include/torcon/version.hpp @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/export.hpp.in
               ${PROJECT_BINARY_DIR}/include/torcon/export.hpp @ONLY)

# The layers and the libraries made of them.
#
# A layer directory (parser/, reactor/, control/, ...) builds one or more
# STATIC libraries with add_library(); torcon_add_layer(<dir>) adds the
# directory and records every static library it defines as a layer. The
# layers stay what the tests, tools and benchmarks link (they may reach
# private headers); libtorcon is made of their objects, so the layering is an
# internal matter and users see one library.
#
# Every layer is compiled with hidden visibility (only TORCON_API
# declarations are exported from libtorcon.so) and, when BUILD_SHARED_LIBS is
# on, as position-independent code.

set_property(GLOBAL PROPERTY TORCON_LAYERS "")

function(torcon_compile_as_part_of_library target)
  set_target_properties(${target} PROPERTIES
    POSITION_INDEPENDENT_CODE ${BUILD_SHARED_LIBS}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # torcon/version.hpp and torcon/export.hpp are generated into the build tree.
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>)
  target_compile_definitions(${target} PRIVATE TORCON_BUILDING_LIBRARY)
endfunction()

macro(torcon_add_layer dir)
  add_subdirectory(${dir})
  get_property(_torcon_targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(_t IN LISTS _torcon_targets)
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "STATIC_LIBRARY")
      set_property(GLOBAL APPEND PROPERTY TORCON_LAYERS ${_t})
      torcon_compile_as_part_of_library(${_t})
    endif()
  endforeach()
endmacro()

# The external libraries a set of layers links (absl::..., PkgConfig::URING,
# OpenSSL::Crypto, ...), found from the layers' own target_link_libraries():
# layers and other torcon_* targets are left out (their objects are inside).
function(torcon_external_deps out_var)
  set(deps)
  foreach(layer IN LISTS ARGN)
    get_target_property(libs ${layer} LINK_LIBRARIES)
    if(NOT libs)
      continue()
    endif()
    foreach(lib IN LISTS libs)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
      if(lib MATCHES "^torcon" OR lib MATCHES "^\\$<")
        continue()
      endif()
      list(APPEND deps ${lib})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES deps)
  set(${out_var} ${deps} PARENT_SCOPE)
endfunction()

# libtorcon: every layer's objects in one archive (or one .so), linked
# privately against what the layers need (a static libtorcon carries those
# as link-only dependencies; see cmake/install.cmake for how they reach
# users of the installed package).
function(torcon_umbrella_library)
  get_property(layers GLOBAL PROPERTY TORCON_LAYERS)
  set(objects)
  foreach(layer IN LISTS layers)
    list(APPEND objects $<TARGET_OBJECTS:${layer}>)
  endforeach()
  add_library(torcon ${PROJECT_SOURCE_DIR}/cmake/version.cpp ${objects})
  add_library(torcon::torcon ALIAS torcon)
  torcon_compile_as_part_of_library(torcon)
  target_compile_options(torcon PRIVATE ${TORCON_WARNINGS})
  target_include_directories(torcon PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # The public headers are C++20.
  target_compile_features(torcon PUBLIC cxx_std_20)
  torcon_external_deps(deps ${layers})
  target_link_libraries(torcon PRIVATE ${deps})
  set_target_properties(torcon PROPERTIES
    EXPORT_NAME torcon
    VERSION ${PROJECT_VERSION}
    # Before 1.0 every minor release may change the ABI: libtorcon.so.0.2.
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set_property(GLOBAL PROPERTY TORCON_LIBRARY_DEPS ${deps})
endfunction()

# libtorcon-testnet (torcon::testnet): torcon_testnet's objects on top of
# libtorcon. A shared one also carries its own copy of the internal process
# primitive (torcon_child_process), which libtorcon.so does not export.
function(torcon_testnet_library)
  torcon_compile_as_part_of_library(torcon_testnet)
  set(objects $<TARGET_OBJECTS:torcon_testnet>)
  if(BUILD_SHARED_LIBS)
    list(APPEND objects $<TARGET_OBJECTS:torcon_child_process>)
  endif()
  add_library(torcon_testnet_library ${objects})
  add_library(torcon::testnet ALIAS torcon_testnet_library)
  torcon_compile_as_part_of_library(torcon_testnet_library)
  target_link_libraries(torcon_testnet_library PUBLIC torcon)
  torcon_external_deps(deps torcon_testnet)
  target_link_libraries(torcon_testnet_library PRIVATE ${deps})
  set_target_properties(torcon_testnet_library PROPERTIES
    OUTPUT_NAME torcon-testnet
    EXPORT_NAME testnet
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set_property(GLOBAL PROPERTY TORCON_TESTNET_DEPS ${deps})
endfunction()

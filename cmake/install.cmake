# cmake --install: the public headers (include/torcon/, and the generated
# version.hpp and export.hpp), libtorcon and libtorcon-testnet, the tools,
# the CMake package (find_package(torcon 0.2 CONFIG) -> torcon::torcon,
# torcon::testnet) and torcon.pc / torcon-testnet.pc.
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/dependencies.cmake)

set(TORCON_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/torcon)

# Components (the Debian packages): runtime = the shared libraries,
# development = headers, static libraries, .so links, CMake and pkg-config
# files; tools = bin/.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/torcon ${PROJECT_BINARY_DIR}/include/torcon
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
        FILES_MATCHING PATTERN "*.hpp")
install(TARGETS torcon torcon_testnet_library EXPORT torconTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT development
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT torconTargets NAMESPACE torcon:: DESTINATION ${TORCON_CMAKE_DIR}
        FILE torconTargets.cmake COMPONENT development)

# Every executable tools/ defines is installed (a new tool needs nothing here).
if(TORCON_TOOLS)
  get_property(tool_targets DIRECTORY ${PROJECT_SOURCE_DIR}/tools PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t IN LISTS tool_targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
    endif()
  endforeach()
endif()

# What a static libtorcon needs at link time, for torconConfig.cmake and the
# .pc files (a shared one needs none of it: the .so records its own).
get_property(library_deps GLOBAL PROPERTY TORCON_LIBRARY_DEPS)
get_property(testnet_deps GLOBAL PROPERTY TORCON_TESTNET_DEPS)
if(BUILD_SHARED_LIBS)
  set(TORCON_FIND_DEPENDENCIES "# libtorcon is shared: its dependencies are its own business.")
  set(TORCON_PC_REQUIRES_PRIVATE "")
  set(TORCON_PC_LIBS_PRIVATE "")
  set(TORCON_TESTNET_PC_LIBS_PRIVATE "")
else()
  torcon_dependencies(TORCON_PC_REQUIRES_PRIVATE TORCON_FIND_DEPENDENCIES TORCON_PC_LIBS_PRIVATE
                      ${library_deps} ${testnet_deps})
  torcon_dependencies(unused_pc unused_cmake TORCON_TESTNET_PC_LIBS_PRIVATE ${testnet_deps})
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/torconConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/torconConfig.cmake
                              INSTALL_DESTINATION ${TORCON_CMAKE_DIR})
# 0.x: a minor release may break the API, so 0.2 accepts 0.2.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/torconConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/torconConfig.cmake
              ${PROJECT_BINARY_DIR}/torconConfigVersion.cmake
        DESTINATION ${TORCON_CMAKE_DIR} COMPONENT development)

# pkg-config: the prefix is the one installed to (cmake --install --prefix P
# included), substituted at install time.
foreach(pc torcon torcon-testnet)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${PROJECT_BINARY_DIR}/pc/${pc}.pc.in @ONLY)
  install(CODE "
    file(READ \"${PROJECT_BINARY_DIR}/pc/${pc}.pc.in\" text)
    string(REPLACE \"%PREFIX%\" \"\${CMAKE_INSTALL_PREFIX}\" text \"\${text}\")
    file(WRITE \"${PROJECT_BINARY_DIR}/pc/${pc}.pc\" \"\${text}\")
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
         TYPE FILE FILES \"${PROJECT_BINARY_DIR}/pc/${pc}.pc\")"
    COMPONENT development)
endforeach()

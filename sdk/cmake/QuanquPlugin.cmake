# quanqu_add_plugin() and quanqu_add_plugin_test(): build a Quanqu plugin, and its unit test, from its sources and manifest.
#
#   quanqu_add_plugin(<target>
#     SOURCES <src>...                 the plugin's sources (required)
#     MANIFEST <plugin.json>           its manifest (required); copied beside the library
#     [PLUGIN_NAME <name>]             the plugin's name (default: the manifest's "name", which it
#                                      must equal); the library is <name>.so
#     [OUTPUT_DIRECTORY <dir>]         where <name>.so and plugin.json go (default: <build dir>/<name>),
#                                      i.e. a directory ready to drop into the server's --plugins-dir
#     [INSTALL_DESTINATION <dir>])     also install both files into <dir>/<name>
#
#   quanqu_add_plugin_test(<target>
#     SOURCES <src>...                 the test's sources and the plugin's (required)
#     MANIFEST <plugin.json>)          the plugin's manifest (required)
#
# The manifest is the one source of the plugin's name and version: both functions read it when
# CMake configures (and again whenever it changes) and compile them in as QUANQU_PLUGIN_NAME and
# QUANQU_PLUGIN_VERSION (string literals), which QUANQU_PLUGIN(ClassName) puts in the library's
# descriptor. They also define QUANQU_PLUGIN_SDK_ABI_MAJOR/MINOR from its "sdk_abi", which
# quanqu/sdk/plugin.hpp checks against the headers' ABI (the server refuses a manifest whose
# sdk_abi differs from the library's), and quanqu_add_plugin_test defines QUANQU_PLUGIN_MANIFEST,
# the manifest's absolute path (for testing::manifest_mismatches).
#
# The library has hidden visibility (only the entry symbol exported by QUANQU_PLUGIN is visible),
# no "lib" prefix, links Quanqu::sdk only, and may have no undefined symbols of its own. The test
# is an executable linking Quanqu::sdk; add your test framework (GTest::gtest_main, ...) to it.

# Reads <manifest> into <prefix>_NAME, <prefix>_VERSION, <prefix>_ABI_MAJOR and <prefix>_ABI_MINOR;
# a manifest without them is a configure error.
function(_quanqu_read_plugin_manifest manifest prefix)
  if(NOT EXISTS "${manifest}")
    message(FATAL_ERROR "Quanqu plugin manifest ${manifest} does not exist")
  endif()
  file(READ "${manifest}" json)
  foreach(field name version sdk_abi)
    string(JSON value ERROR_VARIABLE problem GET "${json}" ${field})
    if(problem OR value STREQUAL "")
      message(FATAL_ERROR "${manifest}: \"${field}\" is required (a non-empty string): ${problem}")
    endif()
    set(${field} "${value}")
  endforeach()
  # Both become C string literals: keep them to what a version or a name is made of.
  if(NOT name MATCHES "^[a-z0-9][a-z0-9-]*$")
    message(FATAL_ERROR "${manifest}: \"name\" must be a-z, 0-9 and '-' (not first); got '${name}'")
  endif()
  if(NOT version MATCHES "^[A-Za-z0-9.+_~-]+$")
    message(FATAL_ERROR "${manifest}: \"version\" must be letters, digits and . + - _ ~; got '${version}'")
  endif()
  if(NOT sdk_abi MATCHES "^([0-9]+)\\.([0-9]+)$")
    message(FATAL_ERROR "${manifest}: \"sdk_abi\" must be \"MAJOR.MINOR\"; got '${sdk_abi}'")
  endif()
  set(${prefix}_NAME "${name}" PARENT_SCOPE)
  set(${prefix}_VERSION "${version}" PARENT_SCOPE)
  set(${prefix}_ABI_MAJOR "${CMAKE_MATCH_1}" PARENT_SCOPE)
  set(${prefix}_ABI_MINOR "${CMAKE_MATCH_2}" PARENT_SCOPE)
  # Editing the manifest (a new version) reconfigures, so the library is rebuilt with it.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${manifest}")
endfunction()

# Compiles the manifest's facts (read by _quanqu_read_plugin_manifest under `prefix`) into `target`.
function(_quanqu_plugin_definitions target prefix)
  target_compile_definitions(${target} PRIVATE
    QUANQU_PLUGIN_NAME="${${prefix}_NAME}"
    QUANQU_PLUGIN_VERSION="${${prefix}_VERSION}"
    QUANQU_PLUGIN_SDK_ABI_MAJOR=${${prefix}_ABI_MAJOR}
    QUANQU_PLUGIN_SDK_ABI_MINOR=${${prefix}_ABI_MINOR})
endfunction()

function(quanqu_add_plugin target)
  cmake_parse_arguments(ARG "" "MANIFEST;PLUGIN_NAME;OUTPUT_DIRECTORY;INSTALL_DESTINATION" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "quanqu_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT ARG_MANIFEST)
    message(FATAL_ERROR "quanqu_add_plugin(${target}): MANIFEST is required (plugin.json)")
  endif()
  get_filename_component(manifest "${ARG_MANIFEST}" ABSOLUTE)
  _quanqu_read_plugin_manifest("${manifest}" QQ_MANIFEST)
  if(NOT ARG_PLUGIN_NAME)
    set(ARG_PLUGIN_NAME ${QQ_MANIFEST_NAME})
  elseif(NOT ARG_PLUGIN_NAME STREQUAL QQ_MANIFEST_NAME)
    message(FATAL_ERROR "quanqu_add_plugin(${target}): PLUGIN_NAME is '${ARG_PLUGIN_NAME}' but ${manifest} "
                        "names the plugin '${QQ_MANIFEST_NAME}'")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${ARG_PLUGIN_NAME})
  endif()

  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Quanqu::sdk)
  _quanqu_plugin_definitions(${target} QQ_MANIFEST)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${ARG_PLUGIN_NAME}
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${manifest} ${ARG_OUTPUT_DIRECTORY}/plugin.json
    COMMENT "Copying the manifest of plugin ${ARG_PLUGIN_NAME}")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${manifest})
  if(ARG_INSTALL_DESTINATION)
    install(TARGETS ${target} LIBRARY DESTINATION ${ARG_INSTALL_DESTINATION}/${ARG_PLUGIN_NAME})
    install(FILES ${manifest} DESTINATION ${ARG_INSTALL_DESTINATION}/${ARG_PLUGIN_NAME} RENAME plugin.json)
  endif()
endfunction()

function(quanqu_add_plugin_test target)
  cmake_parse_arguments(ARG "" "MANIFEST" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "quanqu_add_plugin_test(${target}): SOURCES is required")
  endif()
  if(NOT ARG_MANIFEST)
    message(FATAL_ERROR "quanqu_add_plugin_test(${target}): MANIFEST is required (plugin.json)")
  endif()
  get_filename_component(manifest "${ARG_MANIFEST}" ABSOLUTE)
  _quanqu_read_plugin_manifest("${manifest}" QQ_MANIFEST)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Quanqu::sdk)
  _quanqu_plugin_definitions(${target} QQ_MANIFEST)
  target_compile_definitions(${target} PRIVATE QUANQU_PLUGIN_MANIFEST="${manifest}")
endfunction()

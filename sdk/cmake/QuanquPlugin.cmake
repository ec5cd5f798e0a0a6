# quanqu_add_plugin(): builds a Quanqu plugin as a MODULE library with its manifest beside it.
#
#   quanqu_add_plugin(<target>
#     SOURCES <src>...                 the plugin's sources (required)
#     MANIFEST <plugin.json>           its manifest (required); copied beside the library
#     [PLUGIN_NAME <name>]             the plugin's name (default: <target>); the library is <name>.so
#     [OUTPUT_DIRECTORY <dir>]         where <name>.so and plugin.json go (default: <build dir>/<name>),
#                                      i.e. a directory ready to drop into the server's --plugins-dir
#     [INSTALL_DESTINATION <dir>])     also install both files into <dir>/<name>
#
# The library has hidden visibility (only the entry symbol exported by QUANQU_PLUGIN is visible),
# no "lib" prefix, links Quanqu::sdk only, and may have no undefined symbols of its own.
function(quanqu_add_plugin target)
  cmake_parse_arguments(ARG "" "MANIFEST;PLUGIN_NAME;OUTPUT_DIRECTORY;INSTALL_DESTINATION" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "quanqu_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT ARG_MANIFEST)
    message(FATAL_ERROR "quanqu_add_plugin(${target}): MANIFEST is required (plugin.json)")
  endif()
  if(NOT ARG_PLUGIN_NAME)
    set(ARG_PLUGIN_NAME ${target})
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${ARG_PLUGIN_NAME})
  endif()
  get_filename_component(manifest "${ARG_MANIFEST}" ABSOLUTE)

  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Quanqu::sdk)
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

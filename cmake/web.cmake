# The web UI (src/web/) is compiled into the binary: cmake/web_assets.py
# turns every file there into a C array (plus a gzip copy and an ETag), so
# `jitgate serve` needs no files, no CDN and no Node at run time.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
file(GLOB_RECURSE JG_WEB_FILES CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/src/web
     ${CMAKE_SOURCE_DIR}/src/web/*)
list(FILTER JG_WEB_FILES EXCLUDE REGEX "(^|/)\\.|\\.md$")
set(JG_WEB_DEPS ${JG_WEB_FILES})
list(TRANSFORM JG_WEB_DEPS PREPEND ${CMAKE_SOURCE_DIR}/src/web/)
set(JG_WEB_C ${CMAKE_BINARY_DIR}/generated/web_assets.c)
add_custom_command(
  OUTPUT ${JG_WEB_C}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/cmake/web_assets.py
          ${JG_WEB_C} ${CMAKE_SOURCE_DIR}/src/web ${JG_WEB_FILES}
  DEPENDS ${CMAKE_SOURCE_DIR}/cmake/web_assets.py ${JG_WEB_DEPS}
  COMMENT "Compiling the web UI into the binary"
  VERBATIM)
target_sources(jitgate_lib PRIVATE ${JG_WEB_C})

# Unit tests: every tests/unit/test_*.c is one cmocka executable.
file(GLOB JG_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${JG_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE jitgate_lib PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE
    JG_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME unit/${name} COMMAND ${name})
  set_tests_properties(unit/${name} PROPERTIES LABELS unit TIMEOUT 300)
endforeach()

# Fuzz targets: tests/fuzz/fuzz_*.c.  With JG_FUZZ (clang) they are libFuzzer
# binaries run for a bounded number of iterations over their seed corpus;
# otherwise they are linked to a small driver that replays the corpus, so
# every build still exercises each parser on its seeds.
if(NOT DEFINED JG_FUZZ_RUNS)
  set(JG_FUZZ_RUNS 20000)
endif()
if(JG_FUZZ)
  # coverage feedback from the library under test, not just the harness
  target_compile_options(jitgate_lib PRIVATE -fsanitize=fuzzer-no-link)
endif()
file(GLOB JG_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${JG_FUZZERS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" target ${name})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${target})
  if(JG_FUZZ)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE jitgate_lib)
    add_test(NAME fuzz/${target}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
        $<TARGET_FILE:${name}> -runs=${JG_FUZZ_RUNS} -max_len=65536
        -rss_limit_mb=2048 ${CMAKE_BINARY_DIR}/fuzz-work/${target} ${corpus})
    set_tests_properties(fuzz/${target} PROPERTIES LABELS fuzz TIMEOUT 900)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-work/${target})
  else()
    add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
    target_link_libraries(${name} PRIVATE jitgate_lib)
    add_test(NAME replay/${target} COMMAND ${name} ${corpus})
    set_tests_properties(replay/${target} PROPERTIES LABELS replay)
  endif()
endforeach()

# End-to-end tests: tests/e2e/test_*.py drive the real daemon, CLI and the
# servers they need (PostgreSQL, OIDC provider) started by the test itself.
if(NOT JG_FUZZ)
  file(GLOB JG_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/test_*.py)
  foreach(src ${JG_E2E_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME e2e/${name} COMMAND python3 ${src})
    set_tests_properties(e2e/${name} PROPERTIES LABELS e2e TIMEOUT 900
      ENVIRONMENT "JITGATE_BIN=$<TARGET_FILE:jitgate>;JG_SOURCE_DIR=${CMAKE_SOURCE_DIR};JG_BUILD_DIR=${CMAKE_BINARY_DIR}")
  endforeach()
endif()

# Helpers that every CMakeLists.txt in the tree uses, so that a stage, a test,
# a benchmark or a fuzzer is declared in one call.
#
#   dedupd_library(text SRCS normalize.cc DEPS PkgConfig::UTF8PROC)
#     -> static library dedupd_text, alias dedupd::text; headers are included
#        as "text/normalize.h" (daemon/ is the include root).
#   dedupd_test(text_normalize SRCS normalize_test.cc DEPS dedupd::text LABELS unit)
#   dedupd_benchmark(fingerprint SRCS fingerprint_benchmark.cc DEPS dedupd::fingerprint)
#   dedupd_fuzzer(extract SRCS extract_fuzz.cc DEPS dedupd::text)

set(DEDUPD_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
    -Wimplicit-fallthrough -Wswitch-enum)
if(DEDUPD_WERROR)
  list(APPEND DEDUPD_WARNINGS -Werror)
endif()

set(DEDUPD_SAN_FLAGS "")
if(DEDUPD_SANITIZE)
  set(DEDUPD_SAN_FLAGS -fsanitize=${DEDUPD_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
endif()

function(dedupd_apply_common target)
  target_compile_options(${target} PRIVATE ${DEDUPD_WARNINGS} ${DEDUPD_SAN_FLAGS})
  target_link_options(${target} PRIVATE ${DEDUPD_SAN_FLAGS})
endfunction()

function(dedupd_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(dedupd_${name} STATIC ${ARG_SRCS})
  add_library(dedupd::${name} ALIAS dedupd_${name})
  target_include_directories(dedupd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/daemon)
  target_link_libraries(dedupd_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  dedupd_apply_common(dedupd_${name})
endfunction()

# LABELS: unit | integration | e2e | faults. Tests labelled integration, e2e or
# faults get the local Kafka broker fixture (tests/CMakeLists.txt) and find its
# address in the environment variable DEDUPD_TEST_BOOTSTRAP_FILE.
function(dedupd_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/daemon ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
      DEDUPD_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
      DEDUPD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      DEDUPD_BINARY_DIR="${PROJECT_BINARY_DIR}")
  dedupd_apply_common(${name})
  set(props LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if(NOT ARG_LABELS STREQUAL "unit")
    list(APPEND props FIXTURES_REQUIRED kafka RESOURCE_LOCK kafka_broker
         ENVIRONMENT "DEDUPD_TEST_BOOTSTRAP_FILE=${PROJECT_BINARY_DIR}/kafka/bootstrap")
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  set_tests_properties(${name} PROPERTIES ${props})
endfunction()

function(dedupd_benchmark name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(NOT DEDUPD_BUILD_BENCH)
    return()
  endif()
  add_executable(bench_${name} ${ARG_SRCS})
  target_link_libraries(bench_${name} PRIVATE ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
  target_compile_definitions(bench_${name} PRIVATE DEDUPD_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  dedupd_apply_common(bench_${name})
endfunction()

function(dedupd_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(NOT DEDUPD_BUILD_FUZZ)
    return()
  endif()
  add_executable(fuzz_${name} ${ARG_SRCS})
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_DEPS})
  target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
endfunction()

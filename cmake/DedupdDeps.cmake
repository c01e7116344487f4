# Every dependency comes from a Debian -dev package (scripts/setup installs
# them); ../shared/BUILD-NOTES.md lists how each one is found.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(simdjson CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
# The HTTP server (Debian libcivetweb-dev; prometheus-cpp-pull links it too):
# docs/api.md "Server" says why this library.
find_package(civetweb CONFIG REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
if(DEDUPD_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
find_package(Protobuf REQUIRED)
if(DEDUPD_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(GUMBO REQUIRED IMPORTED_TARGET gumbo)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# The state's texts (state.text_compression = lz4; Debian liblz4-dev, which
# librocksdb links too).
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(PSL REQUIRED IMPORTED_TARGET libpsl)
# HTTP(S) client of the Alertmanager notifier (Debian libcurl4-openssl-dev).
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)

// Counts the calls of memcpy and memmove, and the bytes they copy, by
// replacing libc's in the test binary: for tests that a change copies a
// page's bytes fewer times (issue #11 item 3). The header-only and inlined
// code compiled into the binary reaches these. Include it in exactly ONE
// source file of a test binary.
//
//   counting = true;
//   Work();
//   counting = false;
//   if (!DEDUPD_COPIES_INTERCEPTED) EXPECT_LE(calls.load(), 1u);  // or copied
//
// A sanitizer build routes the copies through its own interceptors
// (__asan_memmove, ...): DEDUPD_COPIES_INTERCEPTED is 1 there, and the
// counts are only checked without one.
// Thread-safety: the counters are global and atomic.
#pragma once

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEDUPD_COPIES_INTERCEPTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define DEDUPD_COPIES_INTERCEPTED 1
#endif
#endif
#ifndef DEDUPD_COPIES_INTERCEPTED
#define DEDUPD_COPIES_INTERCEPTED 0
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<size_t> calls{0};   // memcpy and memmove calls while counting
std::atomic<size_t> copied{0};  // the bytes they copied
}  // namespace

// A byte loop (overlap either way), its stores volatile so that the compiler
// cannot turn it back into a call.
extern "C" void* memmove(void* dst, const void* src, size_t n) noexcept {
  if (counting.load(std::memory_order_relaxed)) {
    calls.fetch_add(1, std::memory_order_relaxed);
    copied.fetch_add(n, std::memory_order_relaxed);
  }
  auto* d = static_cast<volatile unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d < s) {
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
  } else {
    for (size_t i = n; i > 0; --i) d[i - 1] = s[i - 1];
  }
  return dst;
}

extern "C" void* memcpy(void* dst, const void* src, size_t n) noexcept {
  return memmove(dst, src, n);  // counted there, once
}

// Counts heap allocations by replacing the global operator new: for tests
// that a reused buffer makes a call allocate nothing (issue #11 item 3).
// Include it in exactly ONE source file of a test binary.
//
//   CountingNew counting;
//   Work();
//   EXPECT_EQ(counting.Count(), 0u);
//
// Thread-safety: the counter is global; open one CountingNew at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace counting_new_internal {
inline std::atomic<bool> counting{false};
inline std::atomic<size_t> allocations{0};
inline std::atomic<size_t> bytes{0};  // their sizes, summed
}  // namespace counting_new_internal

// Not inlined: GCC would otherwise pair an inlined free() with a `new`
// expression at the call site and warn (-Wmismatched-new-delete).
__attribute__((noinline)) void* operator new(size_t size) {
  if (counting_new_internal::counting.load(std::memory_order_relaxed)) {
    counting_new_internal::allocations.fetch_add(1);
    counting_new_internal::bytes.fetch_add(size);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept {
  std::free(p);
}
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
// The nothrow forms too (simdjson allocates its parser with them): left to
// the runtime, they would allocate where the replaced delete frees, which
// AddressSanitizer reports as a new/free mismatch.
__attribute__((noinline)) void* operator new(size_t size, const std::nothrow_t&) noexcept {
  if (counting_new_internal::counting.load(std::memory_order_relaxed)) {
    counting_new_internal::allocations.fetch_add(1);
    counting_new_internal::bytes.fetch_add(size);
  }
  return std::malloc(size == 0 ? 1 : size);
}
__attribute__((noinline)) void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

// Counts the allocations made between its construction and Count().
class CountingNew {
 public:
  CountingNew() {
    counting_new_internal::allocations = 0;
    counting_new_internal::bytes = 0;
    counting_new_internal::counting = true;
  }
  ~CountingNew() { counting_new_internal::counting = false; }
  CountingNew(const CountingNew&) = delete;
  CountingNew& operator=(const CountingNew&) = delete;
  size_t Count() {
    counting_new_internal::counting = false;
    return counting_new_internal::allocations.load();
  }
  // The bytes those allocations asked for.
  size_t Bytes() {
    counting_new_internal::counting = false;
    return counting_new_internal::bytes.load();
  }
};

// Allocator for the index's big arrays: allocations of 16 MiB and more are
// mapped 2 MiB-aligned and marked MADV_HUGEPAGE, so that a query's random
// accesses into hundreds of MiB do not each take a TLB miss (a two-level page
// walk under virtualisation). Smaller ones come from the ordinary allocator.
//
//   std::vector<uint32_t, LargeArrayAllocator<uint32_t>> v(50'000'000);
//   size_t held = LargeArrayAllocator<uint32_t>::HeldBytes(v.capacity());
//
// Thread-safety: stateless; as thread-safe as mmap and operator new.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace dedupd::index {

template <typename T>
class LargeArrayAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kThreshold = size_t{16} << 20;  // waste < 1/8 of a huge page per MiB

  LargeArrayAllocator() = default;
  template <typename U>
  LargeArrayAllocator(const LargeArrayAllocator<U>&) {}  // NOLINT: allocator rebind

  // Bytes a capacity of n elements really holds (huge-page rounding included).
  static size_t HeldBytes(size_t n) {
    const size_t bytes = n * sizeof(T);
    return bytes >= kThreshold ? RoundUp(bytes) : bytes;
  }

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kThreshold) return static_cast<T*>(::operator new(bytes));
    const size_t size = RoundUp(bytes);
    // Over-map by one huge page, then trim to a 2 MiB-aligned range.
    void* raw =
        mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();  // as std::allocator would
    char* const base = static_cast<char*>(raw);
    const size_t misalign = reinterpret_cast<uintptr_t>(raw) & (kHugePage - 1);
    const size_t head = misalign == 0 ? 0 : kHugePage - misalign;
    char* const aligned = base + head;
    if (head > 0) munmap(base, head);
    if (kHugePage - head > 0) munmap(aligned + size, kHugePage - head);
    madvise(aligned, size, MADV_HUGEPAGE);  // advice: failure is harmless
    return reinterpret_cast<T*>(aligned);
  }

  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kThreshold) {
      ::operator delete(p);
    } else {
      munmap(p, RoundUp(bytes));
    }
  }

  friend bool operator==(const LargeArrayAllocator&, const LargeArrayAllocator&) { return true; }

 private:
  static size_t RoundUp(size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }
};

}  // namespace dedupd::index

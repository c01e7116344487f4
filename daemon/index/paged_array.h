// PagedArray: a growable array of T in fixed pages of 2^page_bits elements,
// for the per-document arrays the detector indexes by DocId. Growing it never
// copies nor over-allocates by more than one page (a std::vector doubles, so
// at a million documents it holds up to twice what it uses, and needs both
// copies while it grows), and an element never moves.
//
//   index::PagedArray<Slot> slots;  slots.emplace_back();  slots[0].x = 1;
//
// Thread-safety: const methods may run concurrently; the others need
// exclusive access.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace dedupd::index {

template <typename T, int page_bits = 12>
class PagedArray {
 public:
  static constexpr size_t kPage = size_t{1} << page_bits;

  T& operator[](size_t i) { return pages_[i >> page_bits][i & (kPage - 1)]; }
  const T& operator[](size_t i) const { return pages_[i >> page_bits][i & (kPage - 1)]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Appends a value-initialised element (or a copy of `value`).
  T& emplace_back() { return push_back(T{}); }
  T& push_back(T value) {
    if ((size_ & (kPage - 1)) == 0 && (size_ >> page_bits) == pages_.size()) {
      pages_.push_back(std::make_unique<T[]>(kPage));
    }
    T& slot = (*this)[size_++];
    slot = std::move(value);
    return slot;
  }
  // Drops the elements from n on (n <= size()), and the pages past the one
  // holding element n - 1.
  void Truncate(size_t n) {
    size_ = n;
    pages_.resize((n + kPage - 1) >> page_bits);
  }
  // Bytes held: the pages and their directory.
  size_t MemoryBytes() const {
    return pages_.size() * kPage * sizeof(T) + pages_.capacity() * sizeof(std::unique_ptr<T[]>);
  }

 private:
  std::vector<std::unique_ptr<T[]>> pages_;
  size_t size_ = 0;
};

}  // namespace dedupd::index

// LineReader: `dedupd scan`'s input, one line at a time, read from a file
// descriptor in large blocks. A line is what std::getline() gives (the bytes
// up to '\n', the last one without a '\n' too, an empty line as ""), less a
// trailing '\r', copied once into the caller's buffer with parse::kPadding
// zero bytes after it, so that the parser reads it in place.
//
//   LineReader reader(fd);
//   std::string storage; std::string_view line;
//   while (reader.Next(&storage, &line)) Use(line);  // line: storage's first bytes
//
// A read returns what the descriptor has (a pipe's lines are taken as they
// come, as std::getline did); a read error ends the input, as it ended
// std::getline's. Thread-safety: one thread at a time.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace dedupd::app {

class LineReader {
 public:
  explicit LineReader(int fd, size_t block_bytes = size_t{1} << 20, size_t padding = 64)
      : fd_(fd), block_(block_bytes == 0 ? 1 : block_bytes), padding_(padding) {}

  // The next line into *storage (its bytes, then `padding` zero bytes) and
  // *line (a view of the line in *storage); false at the end of the input.
  bool Next(std::string* storage, std::string_view* line) {
    storage->clear();
    bool any = false;
    while (true) {
      if (pos_ == end_ && !Fill()) break;
      const char* start = block_.data() + pos_;
      const size_t available = end_ - pos_;
      if (const void* nl = std::memchr(start, '\n', available)) {
        const size_t n = static_cast<size_t>(static_cast<const char*>(nl) - start);
        storage->append(start, n);
        pos_ += n + 1;
        any = true;
        break;
      }
      storage->append(start, available);  // a line longer than what is read: more follows
      pos_ = end_;
      any = true;
    }
    if (!any) return false;
    if (!storage->empty() && storage->back() == '\r') storage->pop_back();
    const size_t size = storage->size();
    storage->resize(size + padding_, '\0');
    *line = std::string_view(storage->data(), size);
    return true;
  }

 private:
  bool Fill() {
    pos_ = end_ = 0;
    if (done_) return false;
    while (true) {
      const ssize_t n = ::read(fd_, block_.data(), block_.size());
      if (n > 0) {
        end_ = static_cast<size_t>(n);
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      done_ = true;  // end of file, or an error: the input ends here
      return false;
    }
  }

  const int fd_;
  std::vector<char> block_;
  const size_t padding_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool done_ = false;
};

}  // namespace dedupd::app

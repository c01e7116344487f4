// A small tmpfs mounted for one test: a volume that really fills up, for the
// full-disk tests (docs/delivery.md, "Full disk"). Mounting needs root (or
// CAP_SYS_ADMIN), which CI has; where it is impossible the test skips with the
// reason, never passes silently.
//
//   SmallTmpfs fs(3 << 20);
//   if (!fs.mounted()) GTEST_SKIP() << fs.why();
//   fs.Fill(fs.path() + "/ballast", 1 << 20);   // take space ...
//   std::filesystem::remove(fs.path() + "/ballast");  // ... and give it back
//
// Thread-safety: not thread-safe.
#pragma once

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace dedupd::testing {

class SmallTmpfs {
 public:
  explicit SmallTmpfs(uint64_t bytes) {
    char tmpl[] = "/tmp/dedupd-tmpfs-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      why_ = std::string("mkdtemp: ") + std::strerror(errno);
      return;
    }
    path_ = tmpl;
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why_ = "cannot mount a tmpfs on " + path_ + " (" + std::strerror(errno) +
             "): the full-disk tests need root or CAP_SYS_ADMIN, as in CI";
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }

  uint64_t FreeBytes() const {
    struct statvfs fs {};
    if (::statvfs(path_.c_str(), &fs) != 0) return 0;
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  // Writes up to `bytes` bytes to `file` (less when the volume fills first);
  // returns how many were written.
  static uint64_t Fill(const std::string& file, uint64_t bytes) {
    FILE* f = std::fopen(file.c_str(), "wb");
    if (f == nullptr) return 0;
    std::vector<char> block(64 << 10, 'x');
    uint64_t written = 0;
    while (written < bytes) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - written));
      size_t put = std::fwrite(block.data(), 1, n, f);
      written += put;
      if (put < n || std::fflush(f) != 0) break;
    }
    std::fclose(f);
    return written;
  }

 private:
  std::string path_;
  std::string why_;
  bool mounted_ = false;
};

}  // namespace dedupd::testing

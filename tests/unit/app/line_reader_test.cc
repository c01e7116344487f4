// LineReader gives the lines std::getline gave `dedupd scan` (less a
// trailing '\r'), whatever the block size: lines split across reads, longer
// than a block, empty, CRLF, the last one without '\n'; each followed by the
// parser's zero padding in the caller's buffer.
#include "app/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace dedupd::app {
namespace {

// What scan did before: std::getline, then one trailing '\r' dropped.
std::vector<std::string> GetlineLines(const std::string& input) {
  std::istringstream in(input);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// A file holding `input`, open for reading at its start.
int FileWith(const std::string& input) {
  char path[] = "/tmp/line_reader_test_XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::unlink(path);
  EXPECT_EQ(::write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

std::vector<std::string> ReaderLines(const std::string& input, size_t block, size_t padding) {
  const int fd = FileWith(input);
  LineReader reader(fd, block, padding);
  std::vector<std::string> out;
  std::string storage = "left over from an earlier line";
  std::string_view line;
  while (reader.Next(&storage, &line)) {
    EXPECT_EQ(line.data(), storage.data());
    EXPECT_EQ(storage.size(), line.size() + padding);
    for (size_t i = line.size(); i < storage.size(); ++i) {
      EXPECT_EQ(storage[i], '\0') << "padding byte " << i - line.size();
    }
    out.emplace_back(line);
    if (out.size() > 100000) break;  // bounded
  }
  EXPECT_FALSE(reader.Next(&storage, &line));  // the end stays the end
  ::close(fd);
  return out;
}

TEST(LineReader, GivesGetlinesLinesWhateverTheBlockSize) {
  std::string long_line(5000, 'x');
  long_line[1234] = '\r';  // a '\r' inside a line stays
  const std::string inputs[] = {
      "",
      "\n",
      "\n\n\n",
      "one",
      "one\n",
      "one\ntwo",
      "one\r\ntwo\r\n",
      "a\r\r\n\r\n\rb\r",
      "{\"url\":\"http://a.example/\",\"body\":\"x\"}\n\n{\"url\":1}\r\n",
      long_line + "\n" + long_line + "\r\nshort\n" + long_line,
      std::string("nul\0byte\nline", 13),
  };
  for (const std::string& input : inputs) {
    for (size_t block :
         {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, size_t{4096}, size_t{1} << 20}) {
      EXPECT_EQ(ReaderLines(input, block, 64), GetlineLines(input))
          << "block " << block << ", input of " << input.size() << " bytes";
    }
  }
  EXPECT_EQ(ReaderLines("a\nb\n", 2, 0), (std::vector<std::string>{"a", "b"}));
}

TEST(LineReader, ReadsAPipeAsItsLinesCome) {
  // A pipe's read returns what is there: the first line is given before the
  // writer has written (or closed) the rest.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "first\nsec", 9), 9);
  LineReader reader(fds[0], size_t{1} << 20, 64);
  std::string storage;
  std::string_view line;
  ASSERT_TRUE(reader.Next(&storage, &line));
  EXPECT_EQ(line, "first");
  ASSERT_EQ(::write(fds[1], "ond\r\nthird", 10), 10);
  ::close(fds[1]);
  ASSERT_TRUE(reader.Next(&storage, &line));
  EXPECT_EQ(line, "second");
  ASSERT_TRUE(reader.Next(&storage, &line));
  EXPECT_EQ(line, "third");
  EXPECT_FALSE(reader.Next(&storage, &line));
  ::close(fds[0]);
}

}  // namespace
}  // namespace dedupd::app

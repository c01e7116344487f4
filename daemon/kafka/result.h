// Result<T>: a value or an error message, for the Kafka helpers' return values.
//
// C++20 has no std::expected; this is the smallest type that lets a caller check
// instead of catch (the data path throws no exceptions).
//
//   Result<std::vector<int32_t>> parts = ListPartitions(props, "pages", 10s);
//   if (!parts.ok()) { log(parts.error()); return; }  // else use parts.value()
//
// Thread-safety: a value type; the usual rules for const/non-const access apply.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace dedupd::kafka {

// Wraps an error message so that Result<std::string> has two unambiguous
// constructors: `return Failure{"why"};` is an error, `return text;` a value.
struct Failure {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Failure failure) : error_(std::move(failure.message)) {  // NOLINT
    // An empty message would make !ok() indistinguishable from "no reason given".
    if (error_.empty()) error_ = "unknown error";
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  // Precondition: ok().
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }

  // Empty when ok().
  const std::string& error() const { return error_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

}  // namespace dedupd::kafka

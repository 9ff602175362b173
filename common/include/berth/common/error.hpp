#pragma once
// One error type for all of Berth: what was being done, on what, and the errno
// (0 when the failure is not a system call's), with context added per layer.

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace berth {

class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int err = 0, std::string path = {})
      : message_(std::move(message)), errno_(err), path_(std::move(path)) {}

  // A failed system call: `op` names it, errno is captured now.
  static Error sys(std::string op, std::string path = {}) {
    return Error(std::move(op), errno, std::move(path));
  }
  static Error sys(std::string op, int err, std::string path) {
    return Error(std::move(op), err, std::move(path));
  }

  // Prefixes what the caller was doing: "launch container c1: clone3: ...".
  Error&& context(std::string_view what) && {
    message_.insert(0, std::string(what) + ": ");
    return std::move(*this);
  }
  Error context(std::string_view what) const& {
    Error copy = *this;
    return std::move(copy).context(what);
  }

  int code() const { return errno_; }
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }
  // Full human-readable text: "<message> '<path>': <strerror>".
  std::string what() const;

 private:
  std::string message_;
  int errno_ = 0;
  std::string path_;
};

template <typename T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error(std::move(message)));
}
inline std::unexpected<Error> fail(Error e) { return std::unexpected(std::move(e)); }
inline std::unexpected<Error> fail_sys(std::string op, std::string path = {}) {
  return std::unexpected(Error::sys(std::move(op), std::move(path)));
}

// Adds what the caller was doing to a failed result.
template <typename T>
Result<T> with_context(Result<T> result, std::string_view what) {
  if (!result) return std::unexpected(std::move(result).error().context(what));
  return result;
}

}  // namespace berth

// Propagates an error from a Result expression, adding nothing:
//   BERTH_TRY(auto fd, open_dir(path));
//   BERTH_TRY_VOID(write_file(path, data));
#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)
#define BERTH_TRY_IMPL(tmp, decl, expr)                      \
  auto tmp = (expr);                                         \
  if (!tmp) return std::unexpected(std::move(tmp).error());  \
  decl = std::move(*tmp)
#define BERTH_TRY(decl, expr) BERTH_TRY_IMPL(BERTH_CONCAT(berth_try_, __LINE__), decl, expr)
#define BERTH_TRY_VOID(expr)                                                        \
  do {                                                                              \
    auto berth_try_void = (expr);                                                   \
    if (!berth_try_void) return std::unexpected(std::move(berth_try_void).error()); \
  } while (0)

// The same inside coroutines:
//   BERTH_CO_TRY_VOID(co_await connect(...));
#define BERTH_CO_TRY_VOID(expr)                                                        \
  do {                                                                                 \
    auto berth_try_void = (expr);                                                      \
    if (!berth_try_void) co_return std::unexpected(std::move(berth_try_void).error()); \
  } while (0)

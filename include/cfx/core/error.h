// User-facing errors. A cfx::Error carries a message that names the offending
// thing and how to fix it; the CLI prints it as one line and exits 2.
// Internal invariants use assert / CFX_ASSERT instead (exit 1, "please report").
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cfx {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

/// Concatenates the arguments (operator<<) into one message.
template <class... A>
std::string str(const A&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

/// Throws cfx::Error with the concatenated message.
template <class... A>
[[noreturn]] void fail(const A&... args) {
  throw Error(::cfx::str(args...));
}

}  // namespace cfx

/// User-error check: throws cfx::Error(message...) when `cond` is false.
#define CFX_CHECK(cond, ...)               \
  do {                                     \
    if (!(cond)) ::cfx::fail(__VA_ARGS__); \
  } while (0)

/// Internal invariant: a violation is a bug in cfx, not a user mistake.
#define CFX_ASSERT(cond)                                                                      \
  do {                                                                                        \
    if (!(cond))                                                                              \
      throw std::logic_error(                                                                 \
          ::cfx::str("internal invariant failed: ", #cond, " at ", __FILE__, ":", __LINE__)); \
  } while (0)

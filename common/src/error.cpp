#include "berth/common/error.hpp"

#include <cstring>

namespace berth {

std::string Error::what() const {
  std::string out = message_;
  if (!path_.empty()) out += " '" + path_ + "'";
  if (errno_ != 0) {
    out += ": ";
    out += std::strerror(errno_);
  }
  return out;
}

}  // namespace berth

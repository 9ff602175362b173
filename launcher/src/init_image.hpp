#pragma once
// berth-init (launcher/init), embedded: the executable the container's init
// exec's once the container is set up.

#include "berth/common/error.hpp"

namespace berth::launcher {

// A sealed memfd holding berth-init, made once per process (close-on-exec).
// Exec'd with execveat(fd, "", ..., AT_EMPTY_PATH): no path in the container
// names it, and sealed, nothing can change it (CVE-2019-5736).
Result<int> init_image_fd();

}  // namespace berth::launcher

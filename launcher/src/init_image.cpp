#include "init_image.hpp"

#include "berth/launcher/launcher.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <mutex>

#include "berth/common/fd.hpp"

namespace berth::launcher {

extern const unsigned char kInitImage[];
extern const std::size_t kInitImageSize;

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

Result<UniqueFd> make_image() {
  // Linux 6.3+ wants executable memfds said so (vm.memfd_noexec); older
  // kernels refuse the flag they do not know.
  UniqueFd fd(::memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!fd && errno == EINVAL) fd.reset(::memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return fail_sys("memfd_create berth-init");
  std::size_t done = 0;
  while (done < kInitImageSize) {
    ssize_t n = ::write(fd.get(), kInitImage + done, kInitImageSize - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_sys("write berth-init image");
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    return fail_sys("seal berth-init image");
  }
  return fd;
}

}  // namespace

Result<int> init_image_fd() {
  static std::mutex mutex;
  static UniqueFd image;
  std::lock_guard lock(mutex);
  if (!image) {
    BERTH_TRY(image, make_image());
  }
  return image.get();
}

Result<void> prepare_launches() {
  BERTH_TRY(int fd, init_image_fd());
  (void)fd;
  return {};
}

}  // namespace berth::launcher

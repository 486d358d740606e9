// TEST SHIM, used only by the test addon built from binding.gyp in this directory: the close()
// that the addon's code calls. The test addon is linked with -Wl,--wrap=close, so every call to
// close() made by the addon's own objects lands here (__wrap_close) and the real one is
// __real_close. Each shim first forgets the fd, as the systems they stand in for do: closing an
// fd removes its knotes from every kqueue (kqueue(2)), and closing a /dev/poll fd ends its set.
#include <unistd.h>

#include "shims.h"

extern "C" int __real_close(int fd);

extern "C" int __wrap_close(int fd) {
  ShimKqueueClosing(fd);
  ShimDevpollClosing(fd);
  return __real_close(fd);
}

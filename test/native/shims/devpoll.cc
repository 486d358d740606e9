// TEST SHIM, used only by the test addon built from binding.gyp in this directory, never by the
// shipped one: Solaris' /dev/poll on Linux, over poll(2), so that native/poller_devpoll.cc can be
// built and run through the poller contract suite here.
//
// The test addon is linked with -Wl,--wrap=open,--wrap=open64,--wrap=write,--wrap=ioctl (and
// close, see wrap.cc), so the backend's plain open/write/ioctl calls land in the __wrap_
// functions below; calls on any other fd go straight to the real ones (__real_). It follows the
// documented semantics of poll(7D) (Solaris and illumos manual pages):
// - open("/dev/poll", O_RDWR) gives a new, empty set; its fd is a real one (a /dev/null
//   placeholder), so its number is unique and close() releases it;
// - write() takes an array of pollfd: an entry adds its fd with its events, OR'ed into the
//   events already there if the fd is in the set; an entry whose events is POLLREMOVE takes the
//   fd out; entries with a negative fd are skipped; a size that is not a whole number of entries
//   is EINVAL; it returns the bytes written;
// - ioctl(DP_POLL) waits like poll() (dp_timeout ms, 0 returns at once, -1 forever), then fills
//   dp_fds with at most dp_nfds entries that have events (fd, events, revents) and returns their
//   number, 0 on a timeout; it is level-triggered; a closed fd still in the set reports POLLNVAL
//   (poll(2) does the same), and a reused number polls the new file;
// - other ioctl requests on the fd are EINVAL (DP_ISPOLLED is not provided: the backend does not
//   use it).
// A write while another thread is inside DP_POLL neither blocks (old Solaris) nor wakes that
// DP_POLL (illumos): it takes effect at the next DP_POLL. The backend never writes while a
// DP_POLL is in progress on its set, so it does not depend on either.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "shims.h"
#include "sys/devpoll.h"

extern "C" {
int __real_open(const char* path, int flags, ...);
int __real_open64(const char* path, int flags, ...);
ssize_t __real_write(int fd, const void* buf, size_t n);
int __real_ioctl(int fd, unsigned long request, ...);
}

namespace {

struct DevPoll {
  std::mutex mu;
  std::vector<pollfd> set;  // fd and events of every member
};

std::mutex g_mu;  // guards g_sets
std::unordered_map<int, std::shared_ptr<DevPoll>> g_sets;
std::atomic<int> g_count{0};  // sets open: lets write() and ioctl() skip the lookup when none

std::shared_ptr<DevPoll> Find(int fd) {
  if (g_count.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_sets.find(fd);
  return it == g_sets.end() ? nullptr : it->second;
}

int Open(int flags) {
  const int fd = __real_open("/dev/null", O_RDWR | (flags & O_CLOEXEC));
  if (fd < 0) return -1;
  std::lock_guard<std::mutex> lock(g_mu);
  g_sets[fd] = std::make_shared<DevPoll>();
  g_count.fetch_add(1, std::memory_order_release);
  return fd;
}

bool IsDevPoll(const char* path) { return path != nullptr && strcmp(path, "/dev/poll") == 0; }

mode_t ModeArg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? static_cast<mode_t>(va_arg(ap, int))
                                                                : 0;
}

ssize_t Write(DevPoll& dp, const void* buf, size_t n) {
  if (n % sizeof(pollfd) != 0) {
    errno = EINVAL;
    return -1;
  }
  const pollfd* entries = static_cast<const pollfd*>(buf);
  std::lock_guard<std::mutex> lock(dp.mu);
  for (size_t i = 0; i < n / sizeof(pollfd); i++) {
    const pollfd& e = entries[i];
    if (e.fd < 0) continue;
    size_t at = 0;
    while (at < dp.set.size() && dp.set[at].fd != e.fd) at++;
    if (e.events == POLLREMOVE) {
      if (at < dp.set.size()) dp.set.erase(dp.set.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (at < dp.set.size()) {
      dp.set[at].events = static_cast<short>(dp.set[at].events | e.events);
    } else {
      dp.set.push_back(pollfd{e.fd, e.events, 0});
    }
  }
  return static_cast<ssize_t>(n);
}

int Poll(DevPoll& dp, dvpoll* arg) {
  if (arg == nullptr || arg->dp_nfds < 0) {
    errno = EINVAL;
    return -1;
  }
  std::vector<pollfd> copy;
  {
    std::lock_guard<std::mutex> lock(dp.mu);
    copy = dp.set;
  }
  const int n = poll(copy.data(), static_cast<nfds_t>(copy.size()), arg->dp_timeout);
  if (n <= 0) return n;  // a timeout, or -1 with errno (EINTR)
  int out = 0;
  for (const pollfd& p : copy) {
    if (out >= arg->dp_nfds) break;
    if (p.revents != 0) arg->dp_fds[out++] = p;
  }
  return out;
}

}  // namespace

extern "C" int __wrap_open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return IsDevPoll(path) ? Open(flags) : __real_open(path, flags, mode);
}

extern "C" int __wrap_open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  const mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return IsDevPoll(path) ? Open(flags) : __real_open64(path, flags, mode);
}

extern "C" ssize_t __wrap_write(int fd, const void* buf, size_t n) {
  std::shared_ptr<DevPoll> dp = Find(fd);
  return dp == nullptr ? __real_write(fd, buf, n) : Write(*dp, buf, n);
}

extern "C" int __wrap_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  std::shared_ptr<DevPoll> dp = Find(fd);
  if (dp == nullptr) return __real_ioctl(fd, request, arg);
  if (request != DP_POLL) {
    errno = EINVAL;
    return -1;
  }
  return Poll(*dp, static_cast<dvpoll*>(arg));
}

void ShimDevpollClosing(int fd) {
  if (g_count.load(std::memory_order_acquire) == 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sets.erase(fd) > 0) g_count.fetch_sub(1, std::memory_order_release);
}

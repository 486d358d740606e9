// The epoll backend (Linux).
//
// Some facts about epoll, and what this file does about them:
// - epoll registers the open file description, not the fd number. If an fd is dup()ed (or
//   inherited by a child) and then closed, the registration lives on and keeps reporting events
//   under the old data word, for an fd number that may already name another file. So every event
//   carries (token << 32 | fd) and collect() drops it unless that is still the current
//   registration in our table.
// - Closing the last fd of a file description removes it from the epoll set silently; a later
//   EPOLL_CTL_DEL then fails with EBADF. remove() forgets the registration either way.
// - EPOLLERR and EPOLLHUP are always reported, whether asked for or not.
// - EPOLLONESHOT disables the registration after one event until EPOLL_CTL_MOD re-arms it;
//   EPOLLET reports a transition once. Both are native here, no emulation.
// - An epoll fd is itself pollable (readable while its ready list is non-empty), which is what
//   lets Node's own libuv loop watch it in integrated mode.
// - Changes made with epoll_ctl() while another thread sleeps in epoll_wait() take effect for
//   that wait; no wake-up is needed (so no kFeatSnapshot).
#include "poller.h"

#if defined(__linux__)

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace asyncoro {
namespace {

class EpollBackend final : public Backend {
 public:
  ~EpollBackend() override { close(); }
  const char* name() const override { return "epoll"; }
  uint32_t features() const override { return kFeatEdge | kFeatOneShot | kFeatPollableFd; }

  int open() override {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    return epfd_ < 0 ? -errno : 0;
  }

  int reserve(int capacity) override {
    if (capacity < 1) return -EINVAL;
    events_.resize(static_cast<size_t>(capacity));
    return 0;
  }

  int fd() const override { return epfd_; }

  int add(int fd, uint32_t events, int32_t token) override {
    if (fd < 0) return -EBADF;
    // Our table may still hold an fd that was closed without remove() and whose number was then
    // reused. The kernel forgot that registration when the file closed, so EPOLL_CTL_ADD tells
    // the two cases apart: it succeeds for a reused number and fails with EEXIST for a real
    // second registration.
    epoll_event ev = to_kernel(fd, events, token);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) return -errno;
    Registration& r = table_.slot(fd);
    r.active = true;
    r.armed = true;
    r.token = token;
    r.events = events;
    return 0;
  }

  int modify(int fd, uint32_t events, int32_t token) override {
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    epoll_event ev = to_kernel(fd, events, token);
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) return -errno;
    r->token = token;
    r->events = events;
    r->armed = true;
    return 0;
  }

  int remove(int fd) override {
    if (table_.find(fd) == nullptr) return -ENOENT;
    table_.clear(fd);
    // The kernel needs a non-null event pointer for EPOLL_CTL_DEL before Linux 2.6.9.
    epoll_event unused{};
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &unused) < 0) return -errno;
    return 0;
  }

  void prepare() override {}

  int block(int timeout_ms) override {
    int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) return -errno;
    ready_ = n;
    return n;
  }

  int collect(int32_t* out, int capacity) override {
    int n = 0;
    for (int i = 0; i < ready_ && n < capacity; i++) {
      const uint64_t data = events_[i].data.u64;
      const int fd = static_cast<int>(data & 0xffffffffu);
      const int32_t token = static_cast<int32_t>(data >> 32);
      Registration* r = table_.find(fd);
      if (r == nullptr || r->token != token) continue;  // stale: closed, removed or reused
      const uint32_t ev = from_kernel(events_[i].events);
      if (ev == 0) continue;
      out[3 * n] = token;
      out[3 * n + 1] = static_cast<int32_t>(ev);
      out[3 * n + 2] = fd;
      n++;
    }
    ready_ = 0;
    return n;
  }

  void close() override {
    if (epfd_ >= 0) {
      ::close(epfd_);
      epfd_ = -1;
    }
  }

 private:
  // The only translation between our bits and epoll's, both ways.
  static epoll_event to_kernel(int fd, uint32_t events, int32_t token) {
    epoll_event ev{};
    if (events & kEvRead) ev.events |= EPOLLIN;
    if (events & kEvWrite) ev.events |= EPOLLOUT;
    if (events & kEvEdge) ev.events |= EPOLLET;
    if (events & kEvOneShot) ev.events |= EPOLLONESHOT;
    ev.data.u64 = (static_cast<uint64_t>(static_cast<uint32_t>(token)) << 32) |
                  static_cast<uint32_t>(fd);
    return ev;
  }
  static uint32_t from_kernel(uint32_t e) {
    uint32_t ev = 0;
    if (e & (EPOLLIN | EPOLLPRI)) ev |= kEvRead;
    if (e & EPOLLOUT) ev |= kEvWrite;
    if (e & EPOLLERR) ev |= kEvError;
    if (e & EPOLLHUP) ev |= kEvHangup;
    return ev;
  }

  int epfd_ = -1;
  int ready_ = 0;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(64);
  RegistrationTable table_;
};

}  // namespace

Backend* NewEpollBackend() { return new EpollBackend(); }

}  // namespace asyncoro

#else

namespace asyncoro {
Backend* NewEpollBackend() { return nullptr; }
}  // namespace asyncoro

#endif

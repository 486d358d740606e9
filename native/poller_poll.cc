// The poll(2) backend (POSIX).
//
// Some facts about poll, and what this file does about them:
// - poll() has no kernel-side registration: every call passes the whole pollfd array, so the cost
//   of a wait grows with the number of fds. The array is kept compact (swap-remove), indexed from
//   the registration table through Registration::slot.
// - Because the array is read by the kernel during the call, a thread blocked in poll() must not
//   see it change. prepare() copies it to a snapshot when it changed (kFeatSnapshot), and the
//   thread mode wakes a blocked wait after a change so the next round takes a fresh copy.
// - POLLERR, POLLHUP and POLLNVAL are reported whether asked for or not; POLLNVAL means the fd was
//   closed while still registered, and is reported as an error.
// - Entries with a negative fd are ignored by the kernel (revents 0). A disarmed registration
//   (one-shot, after its report) is parked as -1 so a hung-up fd does not make every poll()
//   return at once.
// - There is no edge-triggered mode; one-shot is emulated here, so the contract stays the same.
#include "poller.h"

// Not on Windows: WSAPoll does not report a failed connect, so Windows has select (and IOCP).
#if !defined(_WIN32)

#include <errno.h>
#include <poll.h>
#include <unistd.h>

namespace asyncoro {
namespace {

class PollBackend final : public Backend {
 public:
  const char* name() const override { return "poll"; }
  uint32_t features() const override { return kFeatOneShot | kFeatSnapshot; }
  int open() override { return 0; }
  int reserve(int capacity) override { return capacity < 1 ? -EINVAL : 0; }
  int fd() const override { return -1; }

  int add(int fd, uint32_t events, int32_t token) override {
    if (fd < 0) return -EBADF;
    if (events & kEvEdge) return -EOPNOTSUPP;
    if (table_.find(fd) != nullptr) return -EEXIST;
    Registration& r = table_.slot(fd);
    r.active = true;
    r.slot = static_cast<int32_t>(fds_.size());
    fds_.push_back(pollfd{fd, 0, 0});
    tokens_.push_back(token);
    set(fd, r, events, token);
    return 0;
  }

  int modify(int fd, uint32_t events, int32_t token) override {
    if (events & kEvEdge) return -EOPNOTSUPP;
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    set(fd, *r, events, token);
    return 0;
  }

  int remove(int fd) override {
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    const size_t at = static_cast<size_t>(r->slot);
    const size_t last = fds_.size() - 1;
    if (at != last) {
      fds_[at] = fds_[last];
      tokens_[at] = tokens_[last];
      // A parked entry holds -1, so the moved entry's fd is looked up from its owner's slot.
      owners_[at] = owners_[last];
      table_.slot(owners_[at]).slot = static_cast<int32_t>(at);
    }
    fds_.pop_back();
    tokens_.pop_back();
    owners_.pop_back();
    table_.clear(fd);
    dirty_ = true;
    return 0;
  }

  void prepare() override {
    if (!dirty_) return;
    snap_fds_ = fds_;
    snap_tokens_ = tokens_;
    snap_owners_ = owners_;
    dirty_ = false;
  }

  int block(int timeout_ms) override {
    int n = poll(snap_fds_.data(), static_cast<nfds_t>(snap_fds_.size()), timeout_ms);
    if (n < 0) return -errno;
    ready_ = n;
    return n;
  }

  int collect(int32_t* out, int capacity) override {
    int n = 0;
    int seen = 0;
    for (size_t i = 0; i < snap_fds_.size() && seen < ready_ && n < capacity; i++) {
      const short revents = snap_fds_[i].revents;
      if (revents == 0) continue;
      seen++;
      snap_fds_[i].revents = 0;
      const int fd = snap_owners_[i];
      const int32_t token = snap_tokens_[i];
      Registration* r = table_.find(fd);
      if (r == nullptr || r->token != token || !r->armed) continue;  // stale or disarmed
      // The interest may have narrowed since the snapshot; errors and hang-ups always pass.
      const uint32_t ev = from_kernel(revents) & (r->events | kEvError | kEvHangup);
      if (ev == 0) continue;
      if (r->events & kEvOneShot) {
        r->armed = false;
        fds_[static_cast<size_t>(r->slot)].fd = -1;
        dirty_ = true;
      }
      out[3 * n] = token;
      out[3 * n + 1] = static_cast<int32_t>(ev);
      out[3 * n + 2] = fd;
      n++;
    }
    ready_ = 0;
    return n;
  }

  void close() override {
    fds_.clear();
    tokens_.clear();
    owners_.clear();
    dirty_ = true;
  }

 private:
  void set(int fd, Registration& r, uint32_t events, int32_t token) {
    const size_t at = static_cast<size_t>(r.slot);
    r.token = token;
    r.events = events;
    r.armed = true;
    fds_[at].fd = fd;
    fds_[at].events = to_kernel(events);
    tokens_[at] = token;
    if (owners_.size() <= at) owners_.resize(at + 1);
    owners_[at] = fd;
    dirty_ = true;
  }

  // The only translation between our bits and poll's, both ways.
  static short to_kernel(uint32_t events) {
    short e = 0;
    if (events & kEvRead) e |= POLLIN;
    if (events & kEvWrite) e |= POLLOUT;
    return e;
  }
  static uint32_t from_kernel(short e) {
    uint32_t ev = 0;
    if (e & (POLLIN | POLLPRI)) ev |= kEvRead;
    if (e & POLLOUT) ev |= kEvWrite;
    if (e & (POLLERR | POLLNVAL)) ev |= kEvError;
    if (e & POLLHUP) ev |= kEvHangup;
    return ev;
  }

  std::vector<pollfd> fds_;        // what the kernel is asked, compact
  std::vector<int32_t> tokens_;    // token per entry of fds_
  std::vector<int> owners_;        // fd per entry of fds_ (fds_[i].fd is -1 while parked)
  std::vector<pollfd> snap_fds_;   // the copy block() passes to the kernel
  std::vector<int32_t> snap_tokens_;
  std::vector<int> snap_owners_;
  bool dirty_ = true;
  int ready_ = 0;
  RegistrationTable table_;
};

}  // namespace

Backend* NewPollBackend() { return new PollBackend(); }

}  // namespace asyncoro

#else

namespace asyncoro {
Backend* NewPollBackend() { return nullptr; }
}  // namespace asyncoro

#endif

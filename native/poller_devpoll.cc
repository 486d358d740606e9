// The /dev/poll backend (Solaris, illumos).
//
// Some facts about /dev/poll (poll(7D)), and what this file does about them:
// - open("/dev/poll") gives a set kept in the kernel. write() of pollfd entries adds fds to it;
//   an entry whose events is POLLREMOVE takes its fd out. Events written for an fd already in
//   the set are OR'ed into the old ones, so narrowing an interest is POLLREMOVE followed by the
//   new entry, in one write (entries are applied in order).
// - ioctl(DP_POLL) waits (dp_timeout ms, -1 forever) and fills dp_fds with up to dp_nfds ready
//   entries: fd and revents, nothing of ours. It is level-triggered; there is no edge mode and
//   no one-shot, so one-shot is emulated here: after its report a registration is POLLREMOVEd
//   until modify() writes it back.
// - On older Solaris a write() waits until no thread is inside DP_POLL on the same fd (illumos
//   now wakes the poller instead), so a change made while the thread-mode wait blocks could
//   block the JavaScript thread. Changes are therefore only queued by add()/modify()/remove()
//   and written by prepare(), which runs right before the wait on the thread that waits
//   (kFeatSnapshot: the adapter wakes a blocked wait after a change so it takes the new set).
//   Because the write is deferred, add() checks the fd with fcntl(F_GETFD) to report EBADF at
//   the call, and an entry the kernel still refuses in prepare() is reported as kEvError under
//   its token by the next collect().
// - Each registration remembers the sequence number of its last queued change; prepare() notes
//   the last one written. collect() drops a report for a registration changed after that point:
//   it came from the set as it was before the change (for a reused fd number, another file).
// - A closed fd left in the set reports POLLNVAL (an error here) on every DP_POLL until it is
//   removed; if its number is reused, the new file is polled under the old interest, which is
//   why remove() must come before close() and why add() refuses a number still in the table.
// - The /dev/poll fd cannot be polled itself (the man page: POLLERR), so there is no integrated
//   mode: thread and exclusive only.
// - The set belongs to the process that first used it: a forked child gets EACCES on it.
#include "poller.h"

#if defined(__sun) || defined(ASYNCORO_DEVPOLL_SHIM)

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/devpoll.h>
#include <unistd.h>
#if defined(__sun)
#include <stropts.h>  // ioctl()
#else
#include <sys/ioctl.h>
#endif

namespace asyncoro {
namespace {

// A pending failure from prepare(): the kernel refused the entry for this registration.
struct Refused {
  int fd;
  int32_t token;
};

class DevpollBackend final : public Backend {
 public:
  ~DevpollBackend() override { close(); }
  const char* name() const override { return "devpoll"; }
  uint32_t features() const override { return kFeatOneShot | kFeatSnapshot; }

  int open() override {
    dpfd_ = ::open("/dev/poll", O_RDWR);
    if (dpfd_ < 0) return -errno;
    const int fl = fcntl(dpfd_, F_GETFD);
    if (fl < 0 || fcntl(dpfd_, F_SETFD, fl | FD_CLOEXEC) < 0) {
      const int err = errno;
      close();
      return -err;
    }
    return 0;
  }

  int reserve(int capacity) override {
    if (capacity < 1) return -EINVAL;
    results_.resize(static_cast<size_t>(capacity));
    return 0;
  }

  int fd() const override { return -1; }

  int add(int fd, uint32_t events, int32_t token) override {
    if (fd < 0) return -EBADF;
    if (events & kEvEdge) return -EOPNOTSUPP;
    if (table_.find(fd) != nullptr) return -EEXIST;
    if (fcntl(fd, F_GETFD) < 0) return -errno;
    Registration& r = table_.slot(fd);
    r.active = true;
    set(fd, r, events, token);
    return 0;
  }

  int modify(int fd, uint32_t events, int32_t token) override {
    if (events & kEvEdge) return -EOPNOTSUPP;
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    queue(fd, POLLREMOVE);
    set(fd, *r, events, token);
    return 0;
  }

  int remove(int fd) override {
    if (table_.find(fd) == nullptr) return -ENOENT;
    table_.clear(fd);
    queue(fd, POLLREMOVE);
    return 0;
  }

  void prepare() override {
    if (changes_.empty()) return;
    if (write_all(changes_.data(), changes_.size()) != 0) {
      // Some entry was refused; entries before it may have been applied. Writing them again one
      // at a time is harmless (the same events OR'ed again, a POLLREMOVE of an absent fd is
      // ignored) and finds the ones the kernel refuses.
      for (const pollfd& p : changes_) {
        if (write_all(&p, 1) == 0 || p.events == POLLREMOVE) continue;
        Registration* r = table_.find(p.fd);
        if (r != nullptr) refused_.push_back(Refused{p.fd, r->token});
      }
    }
    changes_.clear();
    written_ = queued_;
  }

  int block(int timeout_ms) override {
    dvpoll dvp;
    dvp.dp_fds = results_.data();
    dvp.dp_nfds = static_cast<int>(results_.size());
    // A refused entry is reported at once.
    dvp.dp_timeout = refused_.empty() ? timeout_ms : 0;
    int n = ioctl(dpfd_, DP_POLL, &dvp);
    if (n < 0) return -errno;
    ready_ = n;
    return n + static_cast<int>(refused_.size());
  }

  int collect(int32_t* out, int capacity) override {
    int n = 0;
    for (const Refused& f : refused_) {
      Registration* r = table_.find(f.fd);
      if (r == nullptr || r->token != f.token || n >= capacity) continue;
      emit(out, n++, f.fd, *r, kEvError);
    }
    refused_.clear();
    for (int i = 0; i < ready_ && n < capacity; i++) {
      const pollfd& p = results_[static_cast<size_t>(i)];
      Registration* r = table_.find(p.fd);
      // Unknown, disarmed, or changed after the set this wait used was written.
      if (r == nullptr || !r->armed || static_cast<int32_t>(written_ - r->slot) < 0) continue;
      // A report from before a narrowing write may carry more than is asked now; errors and
      // hang-ups always pass.
      const uint32_t ev = from_kernel(p.revents) & (r->events | kEvError | kEvHangup);
      if (ev == 0) continue;
      emit(out, n++, p.fd, *r, ev);
    }
    ready_ = 0;
    return n;
  }

  void close() override {
    if (dpfd_ >= 0) {
      ::close(dpfd_);
      dpfd_ = -1;
    }
    changes_.clear();
    refused_.clear();
  }

 private:
  void set(int fd, Registration& r, uint32_t events, int32_t token) {
    r.token = token;
    r.events = events;
    r.armed = true;
    queue(fd, to_kernel(events));
    r.slot = static_cast<int32_t>(queued_);
  }

  void queue(int fd, short events) {
    changes_.push_back(pollfd{fd, events, 0});
    queued_++;
  }

  void emit(int32_t* out, int i, int fd, Registration& r, uint32_t ev) {
    out[3 * i] = r.token;
    out[3 * i + 1] = static_cast<int32_t>(ev);
    out[3 * i + 2] = fd;
    if (r.events & kEvOneShot) {
      r.armed = false;
      queue(fd, POLLREMOVE);
    }
  }

  // Writes `count` entries; 0 or -errno. EINTR before anything was written is retried.
  int write_all(const pollfd* entries, size_t count) {
    const size_t bytes = count * sizeof(pollfd);
    ssize_t n;
    do n = write(dpfd_, entries, bytes); while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return static_cast<size_t>(n) == bytes ? 0 : -EIO;
  }

  // The only translation between our bits and /dev/poll's (poll(2)'s), both ways.
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

  int dpfd_ = -1;
  int ready_ = 0;
  uint32_t queued_ = 0;   // sequence number of the last queued change
  uint32_t written_ = 0;  // ... and of the last one prepare() wrote
  std::vector<pollfd> changes_;  // queued by add/modify/remove/collect, written by prepare()
  std::vector<pollfd> results_ = std::vector<pollfd>(64);
  std::vector<Refused> refused_;
  RegistrationTable table_;
};

}  // namespace

Backend* NewDevpollBackend() { return new DevpollBackend(); }

}  // namespace asyncoro

#else

namespace asyncoro {
Backend* NewDevpollBackend() { return nullptr; }
}  // namespace asyncoro

#endif

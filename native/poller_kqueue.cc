// The kqueue backend (macOS, FreeBSD, OpenBSD).
//
// Some facts about kqueue, and what this file does about them:
// - A kqueue holds knotes keyed by (ident, filter). Read and write readiness of one fd are two
//   knotes (EVFILT_READ, EVFILT_WRITE) and come back as two kevents, even from one kevent() call.
//   The contract wants one triple per fd, so collect() merges the kevents of one fd in a batch
//   (Registration::slot holds the fd's triple index while a batch is assembled, -1 otherwise).
// - Every knote carries a udata word that the kernel hands back untouched. It holds the token,
//   so collect() drops what an earlier registration of the same fd number left in flight (a
//   thread-mode wait that returned just before remove() or modify()).
// - close() of an fd removes its knotes, even when a dup() keeps the file open (epoll differs).
//   A later EV_DELETE then fails with EBADF or ENOENT; remove() forgets the registration anyway.
//   Nothing tells a reused fd number from a second registration, so add() of a number still in
//   the table is -EEXIST until remove() clears it, as on poll and select.
// - EV_ADD of an existing knote updates its udata but, on FreeBSD, keeps the EV_CLEAR and
//   EV_ONESHOT it was created with. modify() therefore deletes and re-adds a knote whose flags
//   change, and always passes EV_ENABLE, since re-adding does not re-enable a disabled knote.
// - A change that fails is reported by kevent() itself when no event list is passed (-1 and
//   errno); with an event list it could come back as an EV_ERROR entry mixed with real events.
//   Changes are therefore applied one knote per call with no event list, and a failed add() is
//   rolled back.
// - EV_ONESHOT deletes a knote once it is retrieved. A registration with both directions would
//   keep its other knote, so collect() disarms the registration itself (Registration::armed) and
//   drops what that knote may still report, until modify() re-adds both. EV_CLEAR is
//   edge-triggered: the knote's state is reset when retrieved.
// - EV_EOF in a returned event means the other end is gone (kEvHangup); for sockets fflags then
//   holds the pending socket error, reported as kEvError.
// - Changes made while another thread sleeps in kevent() on the same kqueue take effect for that
//   wait; no wake-up is needed (so no kFeatSnapshot).
// - A kqueue fd is readable while events are pending, and can itself be registered in another
//   kqueue, which is how Node's libuv (kqueue on these systems) watches it in integrated mode.
//   Some macOS kernels report a nested kqueue as readable at once and forever, whether or not it
//   has events, which would make Node's loop spin. open() tests nesting on this very kernel: an
//   empty kqueue must not read as ready, one with an event must. When that fails the backend
//   does not announce kFeatPollableFd, and the TypeScript layer offers thread and exclusive mode
//   only (thread first).
#include "poller.h"

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(ASYNCORO_KQUEUE_SHIM)

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

namespace asyncoro {
namespace {

void* TokenWord(int32_t token) { return reinterpret_cast<void*>(static_cast<intptr_t>(token)); }
int32_t WordToken(void* udata) {
  return static_cast<int32_t>(reinterpret_cast<intptr_t>(udata));
}

// Sets close-on-exec; 0 or -errno.
int CloseOnExec(int fd) {
  const int fl = fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -errno;
  return 0;
}

// One change to one knote, with no event list, so a failure comes back as -1 and errno. EINTR
// means the change was applied (kqueue(2): "all changes in the changelist have been applied").
int Change(int kq, int fd, int16_t filter, uint16_t flags, int32_t token) {
  struct kevent kev;
  EV_SET(&kev, static_cast<uintptr_t>(fd), filter, flags, 0, 0, TokenWord(token));
  if (kevent(kq, &kev, 1, nullptr, 0, nullptr) < 0 && errno != EINTR) return -errno;
  return 0;
}

// Polls `kq` without blocking; the number of events, or -errno.
int Peek(int kq, struct kevent* out) {
  struct timespec zero = {0, 0};
  int n;
  do n = kevent(kq, nullptr, 0, out, 1, &zero); while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

// Whether a kqueue registered in another kqueue reports exactly its own readiness: nothing while
// it is empty, readable once it holds an event. Uses a scratch kqueue and pipe, closed before it
// returns; `kq` is left as it was (closing the pipe removes the knote it gained).
bool NestedKqueueWorks(int kq) {
  int outer = kqueue();
  if (outer < 0) return false;
  int fds[2] = {-1, -1};
  bool ok = CloseOnExec(outer) == 0 && pipe(fds) == 0 && CloseOnExec(fds[0]) == 0 &&
            CloseOnExec(fds[1]) == 0;
  struct kevent got;
  if (ok) ok = Change(outer, kq, EVFILT_READ, EV_ADD | EV_ENABLE, 0) == 0;
  if (ok) ok = Peek(outer, &got) == 0;  // empty: must not read as ready
  if (ok) {
    const char byte = 1;
    ssize_t w;
    do w = write(fds[1], &byte, 1); while (w < 0 && errno == EINTR);
    ok = w == 1 && Change(kq, fds[0], EVFILT_READ, EV_ADD | EV_ENABLE, 0) == 0;
  }
  if (ok) ok = Peek(outer, &got) == 1 && got.ident == static_cast<uintptr_t>(kq);
  // Results ignored on purpose: these are our own scratch fds, and closing the pipe's read end
  // also removes its knote from kq.
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  close(outer);
  return ok;
}

class KqueueBackend final : public Backend {
 public:
  ~KqueueBackend() override { close(); }
  const char* name() const override { return "kqueue"; }
  uint32_t features() const override {
    return kFeatEdge | kFeatOneShot | (nested_ ? static_cast<uint32_t>(kFeatPollableFd) : 0u);
  }

  int open() override {
    kq_ = kqueue();
    if (kq_ < 0) return -errno;
    const int rc = CloseOnExec(kq_);
    if (rc != 0) {
      close();
      return rc;
    }
    nested_ = NestedKqueueWorks(kq_);
    return 0;
  }

  int reserve(int capacity) override {
    if (capacity < 1) return -EINVAL;
    events_.resize(static_cast<size_t>(capacity));
    return 0;
  }

  int fd() const override { return nested_ ? kq_ : -1; }

  int add(int fd, uint32_t events, int32_t token) override {
    if (fd < 0) return -EBADF;
    if (table_.find(fd) != nullptr) return -EEXIST;
    const uint16_t flags = to_kernel(events);
    int rc = 0;
    if (events & kEvRead) rc = Change(kq_, fd, EVFILT_READ, EV_ADD | EV_ENABLE | flags, token);
    if (rc == 0 && (events & kEvWrite)) {
      rc = Change(kq_, fd, EVFILT_WRITE, EV_ADD | EV_ENABLE | flags, token);
      // Result ignored on purpose: the read knote was just added by us and is only rolled back.
      if (rc != 0 && (events & kEvRead)) Change(kq_, fd, EVFILT_READ, EV_DELETE, token);
    }
    if (rc != 0) return rc;
    Registration& r = table_.slot(fd);
    r.active = true;
    r.armed = true;
    r.token = token;
    r.events = events;
    r.slot = -1;
    return 0;
  }

  int modify(int fd, uint32_t events, int32_t token) override {
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    const bool recreate = to_kernel(events) != to_kernel(r->events);
    int rc = update(fd, EVFILT_READ, events & kEvRead, recreate, events, token);
    if (rc == 0) rc = update(fd, EVFILT_WRITE, events & kEvWrite, recreate, events, token);
    if (rc != 0) return rc;
    r->token = token;
    r->events = events;
    r->armed = true;
    return 0;
  }

  int remove(int fd) override {
    Registration* r = table_.find(fd);
    if (r == nullptr) return -ENOENT;
    const uint32_t events = r->events;
    const int32_t token = r->token;
    table_.clear(fd);
    int rc = 0;
    // ENOENT: a one-shot knote the kernel already deleted, or a direction never registered.
    for (int16_t filter : {EVFILT_READ, EVFILT_WRITE}) {
      if (!(events & (filter == EVFILT_READ ? kEvRead : kEvWrite))) continue;
      const int e = Change(kq_, fd, filter, EV_DELETE, token);
      if (e != 0 && e != -ENOENT && rc == 0) rc = e;
    }
    return rc;
  }

  void prepare() override {}

  int block(int timeout_ms) override {
    struct timespec ts;
    struct timespec* tsp = nullptr;
    if (timeout_ms >= 0) {
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
      tsp = &ts;
    }
    int n = kevent(kq_, nullptr, 0, events_.data(), static_cast<int>(events_.size()), tsp);
    if (n < 0) return -errno;
    ready_ = n;
    return n;
  }

  int collect(int32_t* out, int capacity) override {
    int n = 0;
    for (int i = 0; i < ready_; i++) {
      const struct kevent& kev = events_[static_cast<size_t>(i)];
      const int fd = static_cast<int>(kev.ident);
      Registration* r = table_.find(fd);
      if (r == nullptr || r->token != WordToken(kev.udata)) continue;  // stale
      const uint32_t ev = from_kernel(kev);
      if (ev == 0) continue;
      if (r->slot >= 0) {  // the fd's other filter is already in this batch: one triple per fd
        out[3 * r->slot + 1] |= static_cast<int32_t>(ev);
        continue;
      }
      if (!r->armed || n >= capacity) continue;
      out[3 * n] = r->token;
      out[3 * n + 1] = static_cast<int32_t>(ev);
      out[3 * n + 2] = fd;
      r->slot = n;
      if (r->events & kEvOneShot) r->armed = false;
      n++;
    }
    for (int i = 0; i < n; i++) table_.slot(out[3 * i + 2]).slot = -1;
    ready_ = 0;
    return n;
  }

  void close() override {
    if (kq_ >= 0) {
      ::close(kq_);
      kq_ = -1;
    }
  }

 private:
  // One direction of modify(): (re)adds the knote when wanted, else deletes it.
  int update(int fd, int16_t filter, bool want, bool recreate, uint32_t events, int32_t token) {
    if (!want || recreate) {
      const int rc = Change(kq_, fd, filter, EV_DELETE, token);
      if (rc != 0 && rc != -ENOENT) return rc;
      if (!want) return 0;
    }
    return Change(kq_, fd, filter, EV_ADD | EV_ENABLE | to_kernel(events), token);
  }

  // The only translation between our bits and kqueue's, both ways.
  static uint16_t to_kernel(uint32_t events) {
    uint16_t flags = 0;
    if (events & kEvEdge) flags |= EV_CLEAR;
    if (events & kEvOneShot) flags |= EV_ONESHOT;
    return flags;
  }
  static uint32_t from_kernel(const struct kevent& kev) {
    uint32_t ev = 0;
    if (kev.filter == EVFILT_READ) ev |= kEvRead;
    if (kev.filter == EVFILT_WRITE) ev |= kEvWrite;
    if (kev.flags & EV_EOF) ev |= kEvHangup;
    if ((kev.flags & EV_ERROR) || ((kev.flags & EV_EOF) && kev.fflags != 0)) ev |= kEvError;
    return ev;
  }

  int kq_ = -1;
  bool nested_ = false;
  int ready_ = 0;
  std::vector<struct kevent> events_ = std::vector<struct kevent>(64);
  RegistrationTable table_;
};

}  // namespace

Backend* NewKqueueBackend() { return new KqueueBackend(); }

}  // namespace asyncoro

#else

namespace asyncoro {
Backend* NewKqueueBackend() { return nullptr; }
}  // namespace asyncoro

#endif

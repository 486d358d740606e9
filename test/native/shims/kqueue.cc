// TEST SHIM, used only by the test addon built from binding.gyp in this directory, never by the
// shipped one: kqueue() and kevent() on Linux, over epoll, so that native/poller_kqueue.cc can be
// built and run through the poller contract suite here.
//
// It follows the documented semantics of kqueue(2) (FreeBSD and macOS manual pages) for what the
// backend uses, the filters EVFILT_READ and EVFILT_WRITE with the flags EV_ADD, EV_DELETE,
// EV_ENABLE, EV_DISABLE, EV_ONESHOT and EV_CLEAR, and returns EV_ERROR and EV_EOF:
// - knotes are keyed by (ident, filter); read and write readiness of one fd come back as two
//   kevents, each with the udata given when its knote was added;
// - EV_ADD adds a knote, enabled unless EV_DISABLE is given; EV_ADD of an existing knote updates
//   its udata (and EV_ENABLE/EV_DISABLE given with it) and keeps the EV_ONESHOT and EV_CLEAR it
//   was created with, as FreeBSD's kernel does; EV_DELETE of a missing knote is ENOENT, and any
//   change naming a closed fd is EBADF;
// - an error in the changelist goes into the eventlist as an EV_ERROR entry (errno in data) while
//   there is room, and kevent() then returns those entries without waiting; with no room it
//   returns -1 with errno and stops at that change;
// - EV_ONESHOT deletes the knote when its event is retrieved; EV_CLEAR reports a change of state
//   once (epoll's EPOLLET); without either, readiness is reported for as long as it lasts;
// - close() of an fd removes its knotes from every kqueue, also when a dup() keeps the file open
//   (the addon's close() is routed here through the linker's --wrap, see wrap.cc); epoll alone
//   would keep the registration of the open file;
// - EV_EOF is set when the other end is gone (EPOLLRDHUP or EPOLLHUP for reads, EPOLLHUP or
//   EPOLLERR for writes); data is the bytes readable;
// - a kqueue fd is readable while it has events (it is an epoll fd), so it can be watched by
//   another kqueue, by poll() or by Node's loop.
// Limits of this shim: only fds epoll accepts (not regular files); EV_CLEAR applies per fd, so
// the two knotes of one fd must agree on it (EINVAL otherwise); no other filters or flags
// (EINVAL); and fflags stays 0 with EV_EOF, where kqueue puts the pending socket error: Linux can
// only read that error with getsockopt(SO_ERROR), which clears it, and the caller's own
// getsockopt after a failed connect() must still find it. The backend meets none of the first
// three; without the fourth, a failed socket reports EOF (kEvHangup) here, not also kEvError.
//
// ASYNCORO_KQUEUE_SHIM_NESTED=always-ready makes a kqueue fd registered in another kqueue read
// as ready at once and forever, events or not, as some macOS kernels do; the tests use it to see
// the backend's nesting self-test fall back to thread mode.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "shims.h"
#include "sys/event.h"

namespace {

struct Knote {
  bool present = false;
  bool enabled = false;
  bool always_ready = false;  // ASYNCORO_KQUEUE_SHIM_NESTED=always-ready on a kqueue fd
  uint16_t flags = 0;         // EV_ONESHOT, EV_CLEAR
  void* udata = nullptr;
};

struct Ident {
  Knote read;
  Knote write;
  bool in_epoll = false;
  uint32_t gen = 0;  // tells this registration's epoll events from an earlier one's
};

// An event that did not fit into the caller's list, delivered by the next kevent().
struct Pending {
  int fd;
  uint32_t gen;
  int16_t filter;
  uint16_t eof;
  uint32_t fflags;
};

struct Kqueue {
  int epfd = -1;
  std::mutex mu;
  std::unordered_map<int, Ident> idents;
  std::vector<Pending> pending;
  uint32_t next_gen = 1;
};

std::mutex g_mu;  // guards g_kqueues; may be taken while a Kqueue::mu is held, never the reverse
std::unordered_map<int, std::shared_ptr<Kqueue>> g_kqueues;

std::shared_ptr<Kqueue> Find(int kq) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_kqueues.find(kq);
  return it == g_kqueues.end() ? nullptr : it->second;
}

bool IsKqueue(int fd) { return Find(fd) != nullptr; }

bool NestedAlwaysReady() {
  const char* v = getenv("ASYNCORO_KQUEUE_SHIM_NESTED");
  return v != nullptr && strcmp(v, "always-ready") == 0;
}

Knote& KnoteOf(Ident& id, int16_t filter) { return filter == EVFILT_READ ? id.read : id.write; }

// Brings epoll's registration of `fd` in line with its knotes. 0 or an errno.
int Sync(Kqueue& q, int fd, Ident& id) {
  uint32_t want = 0;
  bool clear = false;
  if (id.read.present && id.read.enabled && !id.read.always_ready) {
    want |= EPOLLIN | EPOLLRDHUP;
    clear = clear || (id.read.flags & EV_CLEAR);
  }
  if (id.write.present && id.write.enabled) {
    want |= EPOLLOUT;
    clear = clear || (id.write.flags & EV_CLEAR);
  }
  if (want == 0) {
    // epoll reports errors and hang-ups even with no interest, so an fd with no enabled knote
    // leaves the set.
    if (id.in_epoll && epoll_ctl(q.epfd, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
        errno != ENOENT)
      return errno;
    id.in_epoll = false;
    return 0;
  }
  if (clear) want |= EPOLLET;
  epoll_event ev{};
  ev.events = want;
  if (!id.in_epoll) id.gen = q.next_gen++;
  ev.data.u64 = (static_cast<uint64_t>(id.gen) << 32) | static_cast<uint32_t>(fd);
  if (epoll_ctl(q.epfd, id.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) return errno;
  id.in_epoll = true;
  return 0;
}

// Applies one change. 0 or an errno.
int Apply(Kqueue& q, const struct kevent& c) {
  if (c.filter != EVFILT_READ && c.filter != EVFILT_WRITE) return EINVAL;
  const uint16_t known = EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_ONESHOT | EV_CLEAR;
  if (c.flags & ~known) return EINVAL;
  if (c.ident > static_cast<uintptr_t>(INT32_MAX)) return EBADF;
  const int fd = static_cast<int>(c.ident);
  if (fcntl(fd, F_GETFD) < 0) return EBADF;
  auto it = q.idents.find(fd);
  if (c.flags & EV_DELETE) {
    if (it == q.idents.end() || !KnoteOf(it->second, c.filter).present) return ENOENT;
    KnoteOf(it->second, c.filter) = Knote();
    const int rc = Sync(q, fd, it->second);
    if (!it->second.read.present && !it->second.write.present) q.idents.erase(it);
    return rc;
  }
  if (!(c.flags & EV_ADD)) {
    if (it == q.idents.end() || !KnoteOf(it->second, c.filter).present) return ENOENT;
    Knote& k = KnoteOf(it->second, c.filter);
    const Knote before = k;
    if (c.flags & EV_ENABLE) k.enabled = true;
    if (c.flags & EV_DISABLE) k.enabled = false;
    const int rc = Sync(q, fd, it->second);
    if (rc != 0) k = before;
    return rc;
  }
  const bool fresh = it == q.idents.end();
  Ident& id = fresh ? q.idents[fd] : it->second;
  Knote& k = KnoteOf(id, c.filter);
  const Knote before = k;
  if (!k.present) {
    const Knote& other = c.filter == EVFILT_READ ? id.write : id.read;
    if (other.present && ((other.flags ^ c.flags) & EV_CLEAR)) return EINVAL;  // shim limit
    k.present = true;
    k.enabled = !(c.flags & EV_DISABLE);
    k.flags = c.flags & (EV_ONESHOT | EV_CLEAR);
    k.always_ready = c.filter == EVFILT_READ && IsKqueue(fd) && NestedAlwaysReady();
  }
  k.udata = c.udata;
  if (c.flags & EV_ENABLE) k.enabled = true;
  if (c.flags & EV_DISABLE) k.enabled = false;
  const int rc = Sync(q, fd, id);
  if (rc != 0) {
    k = before;
    if (fresh) q.idents.erase(fd);
  }
  return rc;
}

// The kevent for one knote of `fd`, or false when it has nothing to report now. A one-shot knote
// is deleted as it is reported.
bool Report(Kqueue& q, int fd, Ident& id, int16_t filter, uint16_t eof, uint32_t fflags,
            struct kevent* out) {
  Knote& k = KnoteOf(id, filter);
  if (!k.present || !k.enabled) return false;
  intptr_t data = 0;
  if (filter == EVFILT_READ) {
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) == 0) data = avail;
  }
  EV_SET(out, static_cast<uintptr_t>(fd), filter, static_cast<uint16_t>(k.flags | eof), fflags,
         data, k.udata);
  if (k.flags & EV_ONESHOT) {
    k = Knote();
    // A failure leaves epoll with interest in the deleted knote; Translate() drops what it
    // reports, since the knote is gone.
    Sync(q, fd, id);
  }
  return true;
}

// Turns one epoll event into kevents; what does not fit goes to q.pending. Returns the count
// written to out.
int Translate(Kqueue& q, const epoll_event& e, struct kevent* out, int room) {
  const int fd = static_cast<int>(e.data.u64 & 0xffffffffu);
  const uint32_t gen = static_cast<uint32_t>(e.data.u64 >> 32);
  auto it = q.idents.find(fd);
  if (it == q.idents.end() || it->second.gen != gen || !it->second.in_epoll) return 0;
  const uint32_t bits = e.events;
  const uint32_t fflags = 0;  // see the limits at the top
  int n = 0;
  for (int16_t filter : {EVFILT_READ, EVFILT_WRITE}) {
    const bool read = filter == EVFILT_READ;
    const uint32_t fires = read ? (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
                                : (EPOLLOUT | EPOLLHUP | EPOLLERR);
    if (!(bits & fires)) continue;
    const uint32_t gone = read ? (EPOLLRDHUP | EPOLLHUP | EPOLLERR) : (EPOLLHUP | EPOLLERR);
    const uint16_t eof = (bits & gone) ? EV_EOF : 0;
    if (n < room) {
      if (Report(q, fd, it->second, filter, eof, fflags, &out[n])) n++;
    } else if (KnoteOf(it->second, filter).present) {
      q.pending.push_back(Pending{fd, gen, filter, eof, fflags});
    }
    // Report() may have erased the last knote; the map entry stays until the ident is reused.
  }
  return n;
}

int DeliverPending(Kqueue& q, struct kevent* out, int room) {
  int n = 0;
  size_t used = 0;
  for (; used < q.pending.size() && n < room; used++) {
    const Pending& p = q.pending[used];
    auto it = q.idents.find(p.fd);
    if (it == q.idents.end() || it->second.gen != p.gen) continue;
    if (Report(q, p.fd, it->second, p.filter, p.eof, p.fflags, &out[n])) n++;
  }
  q.pending.erase(q.pending.begin(), q.pending.begin() + static_cast<std::ptrdiff_t>(used));
  return n;
}

int AlwaysReady(Kqueue& q, struct kevent* out, int room) {
  int n = 0;
  for (auto& [fd, id] : q.idents) {
    if (n >= room) break;
    if (id.read.always_ready && Report(q, fd, id, EVFILT_READ, 0, 0, &out[n])) n++;
  }
  return n;
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int Fail(int err) {
  errno = err;
  return -1;
}

}  // namespace

extern "C" int kqueue(void) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -1;
  auto q = std::make_shared<Kqueue>();
  q->epfd = epfd;
  std::lock_guard<std::mutex> lock(g_mu);
  g_kqueues[epfd] = q;
  return epfd;
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const struct timespec* timeout) {
  std::shared_ptr<Kqueue> q = Find(kq);
  if (q == nullptr) return Fail(EBADF);
  if (nchanges < 0 || nevents < 0) return Fail(EINVAL);
  std::unique_lock<std::mutex> lock(q->mu);
  int errors = 0;
  for (int i = 0; i < nchanges; i++) {
    const int rc = Apply(*q, changelist[i]);
    if (rc == 0) continue;
    if (errors >= nevents) return Fail(rc);
    eventlist[errors] = changelist[i];
    eventlist[errors].flags = EV_ERROR;
    eventlist[errors].data = rc;
    errors++;
  }
  if (errors > 0 || nevents == 0) return errors;

  int64_t deadline = -1;
  if (timeout != nullptr) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L)
      return Fail(EINVAL);
    deadline = NowMs() + static_cast<int64_t>(timeout->tv_sec) * 1000 +
               (timeout->tv_nsec + 999999) / 1000000;
  }
  std::vector<epoll_event> ready(static_cast<size_t>(nevents));
  for (;;) {
    int n = DeliverPending(*q, eventlist, nevents);
    n += AlwaysReady(*q, eventlist + n, nevents - n);
    if (n > 0) return n;
    int wait_ms = deadline < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline - NowMs()));
    lock.unlock();
    const int got = epoll_wait(q->epfd, ready.data(), nevents, wait_ms);
    const int err = errno;
    lock.lock();
    if (got < 0) return Fail(err);
    for (int i = 0; i < got; i++) n += Translate(*q, ready[static_cast<size_t>(i)], eventlist + n,
                                                 nevents - n);
    // Every epoll event may have been stale or for disabled knotes: wait for the time left.
    if (n > 0 || wait_ms == 0) return n;
  }
}

void ShimKqueueClosing(int fd) {
  // g_mu is let go before any kqueue's lock is taken: Apply() holds a kqueue's lock and then
  // asks g_mu whether an fd is a kqueue.
  std::vector<std::shared_ptr<Kqueue>> all;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_kqueues.erase(fd);  // the fd is a kqueue being closed; its epoll fd closes with it
    for (auto& [kq, q] : g_kqueues) all.push_back(q);
  }
  for (auto& q : all) {
    std::lock_guard<std::mutex> qlock(q->mu);
    auto it = q->idents.find(fd);
    if (it == q->idents.end()) continue;
    // Before the close, so epoll forgets the registration even if a dup() keeps the file open.
    if (it->second.in_epoll) epoll_ctl(q->epfd, EPOLL_CTL_DEL, fd, nullptr);
    q->idents.erase(it);
  }
}

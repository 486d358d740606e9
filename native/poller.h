// The readiness contract: what every readiness backend (epoll, poll, select, kqueue, /dev/poll)
// implements, one backend per file. The adapter to JavaScript (js_poller.cc) is written against
// this header only; it never includes a kernel header of a backend.
//
// Rules every backend keeps:
// - Calls never throw and never block, except block(); they return 0 (or a count) or -errno.
// - Our own event bits (kEv*) are translated to and from the kernel's in exactly one place per
//   backend: its to_kernel()/from_kernel() pair.
// - read, write, error and hang-up readiness of one fd arrive together in one triple.
// - A registration is (fd, events, token). collect() reports [token, events, fd] triples and
//   drops any kernel event whose (fd, token) is no longer the current registration, so an event
//   for a closed and reused fd (or a registration that outlived close() through a dup) never
//   reaches the caller.
// - Tokens are chosen by the caller and must be >= 0; negative tokens are reserved (kToken*).
#ifndef ASYNCORO_POLLER_H_
#define ASYNCORO_POLLER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace asyncoro {

// Event bits seen by JavaScript. Requested: kEvRead, kEvWrite, kEvEdge, kEvOneShot.
// Reported: kEvRead, kEvWrite, kEvError, kEvHangup (the last two even when not requested).
enum : uint32_t {
  kEvRead = 1u << 0,
  kEvWrite = 1u << 1,
  kEvError = 1u << 2,
  kEvHangup = 1u << 3,
  kEvEdge = 1u << 4,     // edge-triggered: report a change of state once
  kEvOneShot = 1u << 5,  // disarm after one report until modify() re-arms
  kEvWakeup = 1u << 6,   // only on the kTokenWakeup triple
};

// Feature bits a backend announces; a request it cannot honour returns -EOPNOTSUPP.
enum : uint32_t {
  kFeatEdge = 1u << 0,
  kFeatOneShot = 1u << 1,
  kFeatPollableFd = 1u << 2,  // fd() can be watched by another poller (integrated mode)
  kFeatSnapshot = 1u << 3,    // block() works on a copy taken by prepare(); after a change of the
                              // registrations a thread blocked in it must be woken to see it
};

enum : int32_t {
  kTokenWakeup = -1,  // the user-visible wakeup (Poller.wakeup(), or a write to wakeupFd)
  kTokenRearm = -2,   // internal: wakes a thread-mode wait so it takes a fresh snapshot
};

// One registration as the backends keep it, indexed by fd.
struct Registration {
  int32_t token = 0;
  uint32_t events = 0;  // what the caller asked for (our bits)
  bool active = false;  // registered at all
  bool armed = false;   // false after a one-shot report, until modify()
  int32_t slot = -1;    // the backend's own index for the fd (poll: its pollfd), or -1
};

// A table of registrations indexed by fd, shared by the backends' bookkeeping.
class RegistrationTable {
 public:
  Registration* find(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= regs_.size() || !regs_[fd].active) return nullptr;
    return &regs_[fd];
  }
  Registration& slot(int fd) {
    if (static_cast<size_t>(fd) >= regs_.size()) regs_.resize(static_cast<size_t>(fd) + 64);
    return regs_[fd];
  }
  void clear(int fd) {
    if (fd >= 0 && static_cast<size_t>(fd) < regs_.size()) regs_[fd] = Registration();
  }
  size_t limit() const { return regs_.size(); }

 private:
  std::vector<Registration> regs_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual uint32_t features() const = 0;
  // Opens the kernel object. 0 or -errno.
  virtual int open() = 0;
  // Sizes the backend's kernel-side event array for collect() batches of `capacity`. 0 or -errno.
  virtual int reserve(int capacity) = 0;
  // The backend's own fd when kFeatPollableFd, else -1.
  virtual int fd() const = 0;
  // Registrations. add() of a registered fd is -EEXIST (a backend that can ask its kernel whether
  // the fd was closed and its number reused may accept it instead, as epoll does);
  // modify()/remove() of an unknown fd is -ENOENT. remove() forgets the registration even when
  // the kernel call fails (fd closed).
  virtual int add(int fd, uint32_t events, int32_t token) = 0;
  virtual int modify(int fd, uint32_t events, int32_t token) = 0;
  virtual int remove(int fd) = 0;
  // A wait in three steps, so that thread mode holds its lock around prepare() and collect() but
  // not around the blocking syscall. prepare() takes what block() needs; block() is the syscall
  // alone (timeout in ms, -1 = forever) and returns the number of kernel events or -errno;
  // collect() translates at most `capacity` of them into `out` as triples and returns the count.
  virtual void prepare() = 0;
  virtual int block(int timeout_ms) = 0;
  virtual int collect(int32_t* out, int capacity) = 0;
  // Closes the kernel object; idempotent.
  virtual void close() = 0;
};

// Factories, one per backend file. They return nullptr when the backend is not compiled in
// (each file is built everywhere and guards itself by platform).
Backend* NewEpollBackend();
Backend* NewKqueueBackend();
Backend* NewDevpollBackend();
Backend* NewPollBackend();
Backend* NewSelectBackend();

}  // namespace asyncoro

#endif  // ASYNCORO_POLLER_H_

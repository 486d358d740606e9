// The select() backend on Windows (Winsock).
//
// Some facts about Winsock's select, and what this file does about them:
// - An fd_set here is not a bitmap but a count followed by an array of SOCKET handles, and
//   FD_SETSIZE (64) only sizes the declared type: select() reads fd_count entries. So this file
//   builds its own sets in vectors of SOCKET (the count in the first element, which has the
//   layout of fd_set: a u_int padded to the size of a SOCKET), and any number of sockets works.
// - The first argument (nfds) is ignored; a call with all three sets empty fails (WSAEINVAL)
//   instead of sleeping. The poller always has its wake-up socket registered, so it never is.
// - Only sockets can be selected: pipes and files are not sockets on Windows (native.pipe()
//   makes a loopback socket pair there for that reason).
// - select() overwrites the sets with the ready sockets, so each wait starts from copies made by
//   prepare(); a thread blocked in select() works on that snapshot (kFeatSnapshot).
// - A connect that failed shows in the exception set, not the write set (POSIX reports it as
//   writable). The exception set is therefore asked for every registration and reported as
//   kEvError, which wakes a writer as well as a reader. Urgent (out-of-band) data also lands there.
// - A socket closed while registered fails the whole call with WSAENOTSOCK. block() then reports
//   one event; collect() finds the closed sockets (getsockopt fails with WSAENOTSOCK), reports
//   each once as an error and disarms them, so the next call works.
// - A select() costs time in proportion to the sockets it is given, however few are ready (under
//   wine about 1.4 s for 10,000). So the sockets one call found ready are all kept, and reported
//   over as many collect() batches as they need before the next call; a registration changed in
//   the meantime is dropped from that backlog (level-triggered: what is still ready comes again).
// - There is no edge-triggered mode; one-shot is emulated here.
#include "poller.h"

#if defined(_WIN32)

#include <cstring>
#include <vector>

#include "platform.h"

namespace asyncoro {
namespace {

struct WinReg {
  int32_t token = 0;
  uint32_t events = 0;
  bool active = false;
  bool armed = false;
  int32_t snap_token = -1;  // the token when the current snapshot was taken (-1: not in it)
  uint32_t index = 0;       // position in the master list
  uint32_t round = 0;       // the collect() round that last saw it ready
  uint32_t bits = 0;        // what that round saw
  bool closed = false;      // that round found the socket closed: reported once, then disarmed
};

// A set as select() reads it: element 0 holds fd_count, the handles follow.
class SocketSet {
 public:
  void reset(size_t capacity) {
    if (v_.size() < capacity + 1) v_.resize(capacity + 1);
    count() = 0;
  }
  void add(SOCKET s) { v_[1 + count()++] = s; }
  u_int size() const { return reinterpret_cast<const fd_set*>(v_.data())->fd_count; }
  SOCKET at(u_int i) const { return v_[1 + i]; }
  fd_set* raw() { return size() == 0 ? nullptr : reinterpret_cast<fd_set*>(v_.data()); }
  void clear() {
    if (!v_.empty()) count() = 0;
  }

 private:
  u_int& count() { return reinterpret_cast<fd_set*>(v_.data())->fd_count; }
  std::vector<SOCKET> v_ = std::vector<SOCKET>(1, 0);
};

class WinSelectBackend final : public Backend {
 public:
  const char* name() const override { return "select"; }
  uint32_t features() const override { return kFeatOneShot | kFeatSnapshot; }
  int open() override { return 0; }
  int reserve(int capacity) override { return capacity < 1 ? -EINVAL : 0; }
  int fd() const override { return -1; }

  int add(int fd, uint32_t events, int32_t token) override {
    if (fd < 0) return -EBADF;
    if (events & kEvEdge) return -EOPNOTSUPP;
    if (find(fd) != nullptr) return -EEXIST;
    if (static_cast<size_t>(fd) >= regs_.size()) regs_.resize(static_cast<size_t>(fd) + 64);
    WinReg& r = regs_[fd];
    r = WinReg();
    r.active = true;
    set(fd, r, events, token);
    return 0;
  }

  int modify(int fd, uint32_t events, int32_t token) override {
    if (events & kEvEdge) return -EOPNOTSUPP;
    WinReg* r = find(fd);
    if (r == nullptr) return -ENOENT;
    set(fd, *r, events, token);
    return 0;
  }

  int remove(int fd) override {
    WinReg* r = find(fd);
    if (r == nullptr) return -ENOENT;
    park(fd, *r);
    *r = WinReg();
    return 0;
  }

  void prepare() override {
    if (backlog()) return;  // block() reports the backlog without a select()
    // Snapshots: each armed registration in the exception set, and in the read and write sets
    // as asked.
    const size_t n = master_.size();
    rd_.reset(n);
    wr_.reset(n);
    ex_.reset(n);
    for (int fd : master_) {
      WinReg& r = regs_[fd];
      const SOCKET s = SockOf(fd);
      r.snap_token = r.token;
      if (r.events & kEvRead) rd_.add(s);
      if (r.events & kEvWrite) wr_.add(s);
      ex_.add(s);
    }
    if (order_.capacity() < n) order_.reserve(n);
  }

  int block(int timeout_ms) override {
    if (backlog()) return static_cast<int>(order_.size() - pos_);
    timeval tv;
    timeval* tvp = nullptr;
    if (timeout_ms >= 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      tvp = &tv;
    }
    if (ex_.size() == 0) {
      // Nothing registered: select() would fail at once instead of sleeping.
      Sleep(timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms));
      return 0;
    }
    const int n = select(0, rd_.raw(), wr_.raw(), ex_.raw(), tvp);
    if (n >= 0) return n;
    const int err = WSAGetLastError();
    if (err != WSAENOTSOCK) return -ErrnoFromWin(err);
    // A registered socket was closed without being removed; the sets are undefined now.
    // collect(), which runs under the thread mode's lock, finds it from the master list.
    closed_found_ = true;
    return 1;
  }

  int collect(int32_t* out, int capacity) override {
    if (!backlog()) {
      round_++;
      order_.clear();
      pos_ = 0;
      gather();
    }
    int n = 0;
    while (pos_ < order_.size() && n < capacity) {
      const int fd = order_[pos_++];
      WinReg* r = find(fd);
      // Removed, disarmed, or changed since the select() that found it ready.
      if (r == nullptr || !r->armed || r->round != round_ || r->snap_token != r->token) continue;
      const uint32_t ev = r->bits & (r->events | kEvError | kEvHangup);
      if (ev == 0) continue;
      if ((r->events & kEvOneShot) || r->closed) {
        park(fd, *r);
      }
      out[3 * n] = r->token;
      out[3 * n + 1] = static_cast<int32_t>(ev);
      out[3 * n + 2] = fd;
      n++;
    }
    return n;
  }

  void close() override {}

 private:
  bool backlog() const { return pos_ < order_.size(); }

  // Turns the sets select() left (or, after WSAENOTSOCK, the closed sockets) into order_.
  void gather() {
    if (closed_found_) {
      for (int fd : master_) {
        int type = 0;
        int len = sizeof(type);
        if (getsockopt(SockOf(fd), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) != 0 &&
            WSAGetLastError() == WSAENOTSOCK)
          mark(fd, kEvError, true);
      }
    } else {
      for (u_int i = 0; i < rd_.size(); i++) mark(FdOf(rd_.at(i)), kEvRead);
      for (u_int i = 0; i < wr_.size(); i++) mark(FdOf(wr_.at(i)), kEvWrite);
      for (u_int i = 0; i < ex_.size(); i++) mark(FdOf(ex_.at(i)), kEvError);
    }
    rd_.clear();
    wr_.clear();
    ex_.clear();
    closed_found_ = false;
  }

  WinReg* find(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= regs_.size() || !regs_[fd].active) return nullptr;
    return &regs_[fd];
  }
  // Notes readiness `bit` for a socket of the snapshot, unless its registration changed since.
  void mark(int fd, uint32_t bit, bool closed = false) {
    WinReg* r = find(fd);
    if (r == nullptr || !r->armed || r->snap_token != r->token) return;
    if (r->round != round_) {
      r->round = round_;
      r->bits = 0;
      r->closed = false;
      order_.push_back(fd);
    }
    r->bits |= bit;
    r->closed = r->closed || closed;
  }
  void set(int fd, WinReg& r, uint32_t events, int32_t token) {
    r.token = token;
    r.events = events;
    if (!r.armed) {
      r.armed = true;
      r.index = static_cast<uint32_t>(master_.size());
      master_.push_back(fd);
    }
  }
  // Takes a registration out of the master list (swap-remove); it stays known, unarmed.
  void park(int fd, WinReg& r) {
    if (!r.armed) return;
    r.armed = false;
    const int last = master_.back();
    master_[r.index] = last;
    regs_[last].index = r.index;
    master_.pop_back();
    r.snap_token = -1;
    (void)fd;
  }

  std::vector<WinReg> regs_;   // by socket handle value
  std::vector<int> master_;    // armed registrations
  std::vector<int> order_;     // sockets the last select() found ready, in order
  size_t pos_ = 0;             // how far collect() has reported them
  SocketSet rd_, wr_, ex_;     // the snapshot select() overwrites
  uint32_t round_ = 0;
  bool closed_found_ = false;
};

}  // namespace

Backend* NewSelectBackend() { return new WinSelectBackend(); }

}  // namespace asyncoro

#endif  // _WIN32

// The select(2) backend (POSIX; Windows select lives with the IOCP tree).
//
// Some facts about select, and what this file does about them:
// - An fd_set is a bitmap; FD_SETSIZE (1024 on glibc) is only the size of the stack type and of
//   the FD_SET macros' bounds check. The kernel reads as many bits as nfds says, so this file keeps
//   its own bitmaps in vectors of fd_mask that grow with the highest fd, and sets bits by hand.
//   That is how 10,000 fds work here. (macOS accepts the same with _DARWIN_UNLIMITED_SELECT.)
// - select() overwrites its sets, so every call starts from a copy of the master sets, taken by
//   prepare(); a thread blocked in select() therefore works on a snapshot (kFeatSnapshot).
// - The third set is "exceptional conditions": urgent (out-of-band) data on POSIX sockets. It is
//   reported as an error, which is what it means on Windows (a failed connect). Plain errors and
//   hang-ups show up as readable or writable, and the read or write then returns the error.
// - One closed fd still in the sets fails the whole call with EBADF. block() then finds the bad
//   fds with fcntl(F_GETFD) and reports each once as an error; collect() disarms them so the next
//   call works.
// - There is no edge-triggered mode; one-shot is emulated here.
#define _DARWIN_UNLIMITED_SELECT 1
#include "poller.h"

// Windows' select() takes arrays of socket handles, not bitmaps: poller_select_win.cc.
#if !defined(_WIN32)

#include <errno.h>
#include <fcntl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace asyncoro {
namespace {

constexpr int kBits = static_cast<int>(8 * sizeof(fd_mask));

class FdBits {
 public:
  void set(int fd) {
    grow(fd);
    words_[static_cast<size_t>(fd / kBits)] |= bit(fd);
  }
  void unset(int fd) {
    if (static_cast<size_t>(fd / kBits) < words_.size())
      words_[static_cast<size_t>(fd / kBits)] &= ~bit(fd);
  }
  bool test(int fd) const {
    return static_cast<size_t>(fd / kBits) < words_.size() &&
           (words_[static_cast<size_t>(fd / kBits)] & bit(fd)) != 0;
  }
  void copy_from(const FdBits& other, size_t words) {
    words_.resize(words);
    size_t n = other.words_.size() < words ? other.words_.size() : words;
    if (n > 0) std::memcpy(words_.data(), other.words_.data(), n * sizeof(fd_mask));
    if (words > n) std::memset(words_.data() + n, 0, (words - n) * sizeof(fd_mask));
  }
  void clear() { std::fill(words_.begin(), words_.end(), fd_mask(0)); }
  fd_mask word(size_t i) const { return i < words_.size() ? words_[i] : 0; }
  fd_set* raw() { return reinterpret_cast<fd_set*>(words_.data()); }

 private:
  static fd_mask bit(int fd) { return static_cast<fd_mask>(1) << (fd % kBits); }
  void grow(int fd) {
    size_t need = static_cast<size_t>(fd / kBits) + 1;
    if (words_.size() < need) words_.resize(need, 0);
  }
  std::vector<fd_mask> words_;
};

class SelectBackend final : public Backend {
 public:
  const char* name() const override { return "select"; }
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
    if (table_.find(fd) == nullptr) return -ENOENT;
    park(fd);
    table_.clear(fd);
    dirty_ = true;
    return 0;
  }

  void prepare() override {
    // The highest registered fd bounds nfds; recomputed only when registrations changed.
    if (dirty_) {
      max_fd_ = -1;
      for (size_t fd = table_.limit(); fd-- > 0;) {
        if (table_.find(static_cast<int>(fd)) != nullptr) {
          max_fd_ = static_cast<int>(fd);
          break;
        }
      }
      snap_tokens_.resize(table_.limit());
      for (size_t fd = 0; fd < table_.limit(); fd++) {
        Registration* r = table_.find(static_cast<int>(fd));
        snap_tokens_[fd] = r != nullptr ? r->token : 0;
      }
      dirty_ = false;
    }
    words_ = static_cast<size_t>(max_fd_ + 1 + kBits - 1) / kBits;
    if (words_ == 0) words_ = 1;
    rd_.copy_from(m_rd_, words_);
    wr_.copy_from(m_wr_, words_);
    ex_.copy_from(m_ex_, words_);
  }

  int block(int timeout_ms) override {
    timeval tv;
    timeval* tvp = nullptr;
    if (timeout_ms >= 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      tvp = &tv;
    }
    int n = select(max_fd_ + 1, rd_.raw(), wr_.raw(), ex_.raw(), tvp);
    if (n >= 0) return n;
    if (errno != EBADF) return -errno;
    // Some registered fd was closed without being removed. The sets are undefined after a failed
    // call; collect(), which runs under the thread mode's lock, finds the closed fds from the
    // master sets and reports each in the exceptional set.
    closed_found_ = true;
    return 1;
  }

  int collect(int32_t* out, int capacity) override {
    if (closed_found_) find_closed();
    int n = 0;
    for (size_t w = 0; w < words_ && n < capacity; w++) {
      fd_mask any = rd_.word(w) | wr_.word(w) | ex_.word(w);
      while (any != 0 && n < capacity) {
        const int b = __builtin_ctzl(static_cast<unsigned long>(any));
        any &= any - 1;
        const int fd = static_cast<int>(w) * kBits + b;
        Registration* r = table_.find(fd);
        if (r == nullptr || !r->armed || static_cast<size_t>(fd) >= snap_tokens_.size() ||
            r->token != snap_tokens_[static_cast<size_t>(fd)])
          continue;  // stale or disarmed
        uint32_t ev = from_kernel(rd_.test(fd), wr_.test(fd), ex_.test(fd));
        ev &= r->events | kEvError | kEvHangup;
        if (ev == 0) continue;
        if ((r->events & kEvOneShot) || closed_found_) {
          r->armed = false;
          park(fd);
          dirty_ = true;
        }
        out[3 * n] = r->token;
        out[3 * n + 1] = static_cast<int32_t>(ev);
        out[3 * n + 2] = fd;
        n++;
      }
    }
    rd_.clear();
    wr_.clear();
    ex_.clear();
    closed_found_ = false;
    return n;
  }

  void close() override {}

 private:
  void set(int fd, Registration& r, uint32_t events, int32_t token) {
    r.token = token;
    r.events = events;
    r.armed = true;
    park(fd);
    if (events & kEvRead) m_rd_.set(fd);
    if (events & kEvWrite) m_wr_.set(fd);
    m_ex_.set(fd);
    dirty_ = true;
  }
  void find_closed() {
    rd_.clear();
    wr_.clear();
    ex_.clear();
    for (int fd = 0; fd <= max_fd_; fd++) {
      if (!(m_rd_.test(fd) || m_wr_.test(fd) || m_ex_.test(fd))) continue;
      if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) ex_.set(fd);
    }
  }
  void park(int fd) {
    m_rd_.unset(fd);
    m_wr_.unset(fd);
    m_ex_.unset(fd);
  }

  // The only translation from select's three sets to our bits.
  static uint32_t from_kernel(bool readable, bool writable, bool exceptional) {
    uint32_t ev = 0;
    if (readable) ev |= kEvRead;
    if (writable) ev |= kEvWrite;
    if (exceptional) ev |= kEvError;
    return ev;
  }

  FdBits m_rd_, m_wr_, m_ex_;  // master sets, changed by add/modify/remove
  FdBits rd_, wr_, ex_;        // the copies select() overwrites
  std::vector<int32_t> snap_tokens_;
  size_t words_ = 1;
  int max_fd_ = -1;
  bool dirty_ = true;
  bool closed_found_ = false;
  RegistrationTable table_;
};

}  // namespace

Backend* NewSelectBackend() { return new SelectBackend(); }

}  // namespace asyncoro

#endif  // !_WIN32

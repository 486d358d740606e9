// The io_uring completion backend (Linux), over the raw syscalls: no liburing, so the prebuilt
// binary needs nothing beyond glibc 2.28 (syscall, mmap, eventfd).
//
// Some facts about io_uring, and what this file does about them:
// - A ring is two queues shared with the kernel through mmap: we produce submission entries (SQEs)
//   and advance the SQ tail; the kernel consumes them and advances the SQ head. The kernel produces
//   completion entries (CQEs) and advances the CQ tail; we consume them and advance the CQ head.
//   Each side publishes its index with a release store after writing the entries and reads the
//   other side's index with an acquire load before reading them (the __atomic builtins below).
// - Without SQPOLL nothing reaches the kernel until io_uring_enter(to_submit). So submissions are
//   queued locally and handed over in one syscall by flush() or wait(). A full SQ is flushed and
//   the entry taken again. io_uring_enter may stop early at an entry that fails (older kernels);
//   the rest stays in the ring and flush() enters again until the queue is empty or it fails.
// - Every SQE produces one CQE (we set no CQE_SKIP, use no multishot), carrying the user_data we
//   gave it. Ours is (generation << 32 | operation index), so a cancel queued for an operation
//   whose record was meanwhile reused cannot hit the newcomer. Internal entries (the wake poll,
//   cancels, timeouts) have the top bit set and are never reported.
// - The CQ can overflow when more operations complete than it holds. With IORING_FEAT_NODROP
//   (5.5) the kernel keeps the extra CQEs and sets IORING_SQ_CQ_OVERFLOW in the SQ flags; an
//   io_uring_enter(GETEVENTS) moves them into the ring once there is room. collect() does that.
//   Rings without NODROP would lose completions, so open() refuses them (-ENOSYS). The CQ is also
//   sized (IORING_SETUP_CQSIZE, 5.5) above max_ops, so overflow is rare.
// - The ring fd is pollable: readable while the CQ holds entries. That is integrated mode: Node's
//   loop watches it with a uv_poll_t. Socket completions run as task work in the submitting
//   thread, which the kernel interrupts (TWA_SIGNAL) even when it sleeps in epoll_wait, so the
//   completion is posted and the fd becomes readable. That is why this ring is set up without
//   COOP_TASKRUN/DEFER_TASKRUN, and why one thread (the JavaScript thread) submits everything.
// - On an fd that is not ready, recv/send/read/write/accept/connect first try without blocking
//   and then arm an internal poll: no kernel thread waits. They can be cancelled at once
//   (-ECANCELED). The fd's own O_NONBLOCK flag does not make the operation fail with EAGAIN:
//   the suite runs every operation on non-blocking sockets and pipes (checked on 6.18).
// - A wait with a timeout: IORING_ENTER_EXT_ARG (5.11) passes the timeout to io_uring_enter.
//   Before 5.11 we queue an IORING_OP_TIMEOUT with a count of 1, which completes when one other
//   completion arrives or the time is up; its CQE is internal.
// - Ops need these kernels: RECV, SEND, READ, WRITE 5.6; RECVMSG, SENDMSG (recvfrom, sendto) 5.3; ACCEPT, CONNECT, ASYNC_CANCEL 5.5;
//   POLL_ADD, TIMEOUT 5.1-5.4; IORING_REGISTER_PROBE 5.6 (where it is missing every op is tried
//   and a missing one completes with -EINVAL). 5.10 has everything used here except EXT_ARG, and
//   up to 5.11 a ring's memory is charged to RLIMIT_MEMLOCK (keep max_ops small there: -ENOMEM).
// - io_uring can be switched off (kernel.io_uring_disabled = 2, or 1 for unprivileged users
//   outside io_uring_group) or blocked by seccomp in containers: setup fails with -EPERM or
//   -ENOSYS, and ringProbe() reports that so the TypeScript layer lists io_uring only where it
//   works.
#include "completion.h"

#if defined(__linux__)

#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "addr.h"
#include "poller.h"

// The syscall numbers are the same on every architecture since 5.1 (except alpha); older C
// library headers may not have them.
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif
#ifndef IORING_ENTER_EXT_ARG
#define IORING_ENTER_EXT_ARG (1U << 3)
#endif
#ifndef IORING_FEAT_EXT_ARG
#define IORING_FEAT_EXT_ARG (1U << 8)
#endif

namespace asyncoro {
namespace {

constexpr uint64_t kUdInternal = 1ull << 63;
constexpr uint64_t kUdWake = kUdInternal | 1;
constexpr uint64_t kUdCancel = kUdInternal | 2;
constexpr uint64_t kUdTimeout = kUdInternal | 3;

// Our own copy of the two kernel structures whose headers vary between distributions.
struct KernelTimespec {
  int64_t tv_sec;
  long long tv_nsec;
};
struct GeteventsArg {
  uint64_t sigmask;
  uint32_t sigmask_sz;
  uint32_t pad;
  uint64_t ts;
};

int Setup(unsigned entries, io_uring_params* p) {
  long r = syscall(__NR_io_uring_setup, entries, p);
  return r < 0 ? -errno : static_cast<int>(r);
}
int Enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
          size_t argsz) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz);
  return r < 0 ? -errno : static_cast<int>(r);
}
int Register(int fd, unsigned opcode, void* arg, unsigned nr) {
  long r = syscall(__NR_io_uring_register, fd, opcode, arg, nr);
  return r < 0 ? -errno : static_cast<int>(r);
}

uint32_t LoadAcquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// Our event bits and the kernel's poll bits meet here and nowhere else.
uint32_t PollToKernel(uint32_t ev) {
  uint32_t k = 0;
  if (ev & kEvRead) k |= POLLIN | POLLPRI;
  if (ev & kEvWrite) k |= POLLOUT;
  return k;
}
uint32_t PollFromKernel(uint32_t k) {
  uint32_t ev = 0;
  if (k & (POLLIN | POLLPRI)) ev |= kEvRead;
  if (k & POLLOUT) ev |= kEvWrite;
  if (k & (POLLERR | POLLNVAL)) ev |= kEvError;
  if (k & (POLLHUP | POLLRDHUP)) ev |= kEvHangup;
  return ev;
}

const uint8_t kOpcode[kOpCount] = {
    0,
    IORING_OP_RECV,
    IORING_OP_SEND,
    IORING_OP_READ,
    IORING_OP_WRITE,
    IORING_OP_ACCEPT,
    IORING_OP_CONNECT,
    IORING_OP_POLL_ADD,
    IORING_OP_RECVMSG,
    IORING_OP_SENDMSG,
};

// recvmsg/sendmsg read their msghdr (and the iovec and address it points at) when the kernel
// gets to the operation, which may be after submission; so each operation record has its own.
struct MsgRecord {
  msghdr msg;
  iovec iov;
  uint32_t addr_off;  // recvfrom: where in the slot the sender's address goes
};

struct OpRecord {
  uint32_t gen = 0;
  int32_t token = -1;
  uint32_t kind = 0;  // 0: free
  uint32_t slot = UINT32_MAX;
  bool cancel_requested = false;
};

struct Slot {
  uint8_t* data = nullptr;
  size_t len = 0;
  uint32_t busy = 0;  // operations in flight on this slot
};

class UringBackend final : public CompletionBackend {
 public:
  ~UringBackend() override { close(); }
  const char* name() const override { return "io_uring"; }
  uint32_t features() const override { return features_; }
  uint32_t ops() const override { return ops_mask_; }
  int fd() const override { return ring_fd_; }
  int wake_fd() const override { return wake_fd_; }
  uint32_t in_flight() const override { return in_flight_; }
  uint32_t queued() const override {
    return ring_fd_ < 0 ? 0 : sq_tail_ - LoadAcquire(sq_khead_);
  }

  int open(const RingLimits& limits) override;
  int set_buffer(uint32_t slot, uint8_t* data, size_t len) override;
  int transfer(RingOp op, int32_t token, int fd, uint32_t slot, size_t off, size_t len) override;
  int accept(int32_t token, int fd) override;
  int connect(int32_t token, int fd, const void* addr, size_t addrlen) override;
  int recvfrom(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
               size_t addr_off) override;
  int sendto(int32_t token, int fd, uint32_t slot, size_t off, size_t len, const void* addr,
             size_t addrlen) override;
  int poll(int32_t token, int fd, uint32_t events) override;
  int cancel(int32_t token) override;
  int flush() override;
  int wait(int timeout_ms) override;
  int collect(int32_t* out, int capacity) override;
  int wakeup() override;
  int cancel_all() override;
  void close() override;

 private:
  int GetSqe(io_uring_sqe** out);
  int SubmitQueued();  // publishes the tail and enters until the kernel has taken everything
  int Begin(int32_t token, RingOp kind, io_uring_sqe** sqe, uint32_t* index);
  void Commit(io_uring_sqe* sqe, uint32_t index);
  void Release(uint32_t index);
  int QueueCancel(uint32_t index);
  int ArmWake();
  bool CqReady() const { return *cq_khead_ != LoadAcquire(cq_ktail_); }
  bool Overflowed() const {
    return (__atomic_load_n(sq_kflags_, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW) != 0;
  }
  // Token lookup: open addressing with linear probing over preallocated cells (op indexes).
  uint32_t Home(int32_t token) const {
    return (static_cast<uint32_t>(token) * 0x9E3779B1u) & (cells_mask_);
  }
  int32_t Find(int32_t token) const;
  void Insert(uint32_t index);
  void Erase(int32_t token);

  int ring_fd_ = -1;
  int wake_fd_ = -1;
  bool wake_armed_ = false;
  uint32_t features_ = 0;
  uint32_t ops_mask_ = 0;
  bool ext_arg_ = false;
  // Mappings.
  void* sq_map_ = nullptr;
  size_t sq_map_len_ = 0;
  void* cq_map_ = nullptr;
  size_t cq_map_len_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_len_ = 0;
  uint32_t* sq_khead_ = nullptr;
  uint32_t* sq_ktail_ = nullptr;
  uint32_t* sq_kflags_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t sq_entries_ = 0;
  uint32_t sq_tail_ = 0;  // ours; published to *sq_ktail_ by flush()
  uint32_t* cq_khead_ = nullptr;
  uint32_t* cq_ktail_ = nullptr;
  uint32_t cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  // Tables, all sized at open().
  std::vector<OpRecord> records_;
  std::vector<sockaddr_storage> addrs_;  // connect's and sendto's address, recvfrom's sender
  std::vector<MsgRecord> msgs_;          // recvfrom's and sendto's msghdr
  std::vector<uint32_t> free_;
  std::vector<int32_t> cells_;
  uint32_t cells_mask_ = 0;
  std::vector<Slot> slots_;
  uint32_t in_flight_ = 0;
  KernelTimespec ts_{};  // the fallback timeout's value; the kernel copies it at submission
};

int UringBackend::open(const RingLimits& limits) {
  if (limits.entries == 0 || limits.max_ops == 0) return -EINVAL;
  io_uring_params p;
  memset(&p, 0, sizeof(p));
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
  // Room for every operation's completion plus the internal ones, so NODROP's overflow list (a
  // kernel allocation per CQE) is the exception.
  uint32_t cq = limits.cq_entries != 0 ? limits.cq_entries : limits.max_ops + 64;
  if (limits.cq_entries == 0 && cq < 2 * limits.entries) cq = 2 * limits.entries;
  p.cq_entries = cq;
  int fd = Setup(limits.entries, &p);
  if (fd < 0) return fd;
  ring_fd_ = fd;
  if (!(p.features & IORING_FEAT_NODROP)) {
    close();
    return -ENOSYS;
  }
  sq_entries_ = p.sq_entries;
  ext_arg_ = (p.features & IORING_FEAT_EXT_ARG) && !limits.timeout_op;
  features_ = kRingFeatPollableFd | (ext_arg_ ? static_cast<uint32_t>(kRingFeatWaitTimeout) : 0u);

  sq_map_len_ = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  cq_map_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_map_len_ > sq_map_len_) sq_map_len_ = cq_map_len_;
  sq_map_ = mmap(nullptr, sq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                 IORING_OFF_SQ_RING);
  if (sq_map_ == MAP_FAILED) {
    const int err = -errno;
    sq_map_ = nullptr;
    close();
    return err;
  }
  if (single) {
    cq_map_ = sq_map_;
  } else {
    cq_map_ = mmap(nullptr, cq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                   IORING_OFF_CQ_RING);
    if (cq_map_ == MAP_FAILED) {
      const int err = -errno;
      cq_map_ = nullptr;
      close();
      return err;
    }
  }
  sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    const int err = -errno;
    close();
    return err;
  }
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  char* sq = static_cast<char*>(sq_map_);
  char* cqm = static_cast<char*>(cq_map_);
  sq_khead_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.head);
  sq_ktail_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.tail);
  sq_kflags_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.flags);
  sq_mask_ = *reinterpret_cast<uint32_t*>(sq + p.sq_off.ring_mask);
  sq_tail_ = *sq_ktail_;
  // The SQ index array maps ring positions to SQEs; we use the identity, set once.
  uint32_t* array = reinterpret_cast<uint32_t*>(sq + p.sq_off.array);
  for (uint32_t i = 0; i < p.sq_entries; i++) array[i] = i;
  cq_khead_ = reinterpret_cast<uint32_t*>(cqm + p.cq_off.head);
  cq_ktail_ = reinterpret_cast<uint32_t*>(cqm + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<uint32_t*>(cqm + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cqm + p.cq_off.cqes);

  // Which of our operations this kernel has. 5.5 has no probe (-EINVAL): assume all, and an
  // operation it lacks completes with -EINVAL.
  {
    std::vector<uint8_t> buf(sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op), 0);
    io_uring_probe* probe = reinterpret_cast<io_uring_probe*>(buf.data());
    int rc = Register(fd, IORING_REGISTER_PROBE, probe, 256);
    for (uint32_t k = 1; k < kOpCount; k++) {
      const uint8_t code = kOpcode[k];
      if (rc < 0 || (code <= probe->last_op && (probe->ops[code].flags & IO_URING_OP_SUPPORTED)))
        ops_mask_ |= 1u << k;
    }
  }

  records_.assign(limits.max_ops, OpRecord());
  addrs_.assign(limits.max_ops, sockaddr_storage());
  msgs_.assign(limits.max_ops, MsgRecord());
  free_.resize(limits.max_ops);
  for (uint32_t i = 0; i < limits.max_ops; i++) free_[i] = limits.max_ops - 1 - i;
  uint32_t cells = 16;
  while (cells < 2 * limits.max_ops) cells <<= 1;
  cells_.assign(cells, -1);
  cells_mask_ = cells - 1;
  slots_.assign(limits.slots, Slot());

  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const int err = -errno;
    close();
    return err;
  }
  int rc = ArmWake();
  if (rc == 0) {
    const int f = flush();
    if (f < 0) rc = f;
  }
  if (rc < 0) {
    close();
    return rc;
  }
  return 0;
}

int32_t UringBackend::Find(int32_t token) const {
  for (uint32_t i = Home(token);; i = (i + 1) & cells_mask_) {
    const int32_t c = cells_[i];
    if (c < 0) return -1;
    if (records_[c].token == token) return c;
  }
}

void UringBackend::Insert(uint32_t index) {
  uint32_t i = Home(records_[index].token);
  while (cells_[i] >= 0) i = (i + 1) & cells_mask_;
  cells_[i] = static_cast<int32_t>(index);
}

// Backward-shift deletion: later cells of the same probe run move up, so Find() never stops at
// a hole in front of a key it should reach.
void UringBackend::Erase(int32_t token) {
  uint32_t i = Home(token);
  while (cells_[i] >= 0 && records_[cells_[i]].token != token) i = (i + 1) & cells_mask_;
  if (cells_[i] < 0) return;
  cells_[i] = -1;
  for (uint32_t j = (i + 1) & cells_mask_; cells_[j] >= 0; j = (j + 1) & cells_mask_) {
    const uint32_t k = Home(records_[cells_[j]].token);
    // The entry at j stays if its home lies cyclically in (i, j].
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    cells_[i] = cells_[j];
    cells_[j] = -1;
    i = j;
  }
}

int UringBackend::GetSqe(io_uring_sqe** out) {
  if (sq_tail_ - LoadAcquire(sq_khead_) >= sq_entries_) {
    // Full: hand the queue to the kernel, which consumes the entries before it returns.
    int rc = SubmitQueued();
    if (rc < 0) return rc;
    if (sq_tail_ - LoadAcquire(sq_khead_) >= sq_entries_) return -EBUSY;
  }
  io_uring_sqe* sqe = &sqes_[sq_tail_ & sq_mask_];
  memset(sqe, 0, sizeof(*sqe));
  *out = sqe;
  return 0;
}

int UringBackend::Begin(int32_t token, RingOp kind, io_uring_sqe** sqe, uint32_t* index) {
  if (ring_fd_ < 0) return -EBADF;
  if (token < 0) return -EINVAL;
  if (!(ops_mask_ & (1u << kind))) return -EOPNOTSUPP;
  if (free_.empty()) return -ENOBUFS;
  if (Find(token) >= 0) return -EEXIST;
  int rc = GetSqe(sqe);
  if (rc < 0) return rc;
  *index = free_.back();
  OpRecord& r = records_[*index];
  r.token = token;
  r.kind = kind;
  r.slot = UINT32_MAX;
  r.cancel_requested = false;
  return 0;
}

void UringBackend::Commit(io_uring_sqe* sqe, uint32_t index) {
  OpRecord& r = records_[index];
  sqe->user_data = (static_cast<uint64_t>(r.gen & 0x7fffffffu) << 32) | index;
  free_.pop_back();
  Insert(index);
  if (r.slot != UINT32_MAX) slots_[r.slot].busy++;
  in_flight_++;
  sq_tail_++;
}

void UringBackend::Release(uint32_t index) {
  OpRecord& r = records_[index];
  Erase(r.token);
  if (r.slot != UINT32_MAX) slots_[r.slot].busy--;
  r.kind = 0;
  r.token = -1;
  r.slot = UINT32_MAX;
  r.gen++;
  free_.push_back(index);
  in_flight_--;
}

int UringBackend::set_buffer(uint32_t slot, uint8_t* data, size_t len) {
  if (ring_fd_ < 0) return -EBADF;
  if (slot >= slots_.size()) return -EINVAL;
  Slot& s = slots_[slot];
  if (s.busy != 0) return -EBUSY;
  if (data == nullptr) {
    if (s.data == nullptr) return -ENOENT;
    s = Slot();
    return 0;
  }
  if (s.data != nullptr) return -EEXIST;
  s.data = data;
  s.len = len;
  return 0;
}

int UringBackend::transfer(RingOp op, int32_t token, int fd, uint32_t slot, size_t off,
                           size_t len) {
  if (op != kOpRecv && op != kOpSend && op != kOpRead && op != kOpWrite) return -EINVAL;
  if (ring_fd_ < 0) return -EBADF;
  if (slot >= slots_.size() || fd < 0) return -EINVAL;
  const Slot& s = slots_[slot];
  if (s.data == nullptr) return -ENOENT;
  // The result is an int32: one operation moves at most INT32_MAX bytes.
  if (off > s.len || len > s.len - off || len > 0x7fffffff) return -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, op, &sqe, &index);
  if (rc < 0) return rc;
  sqe->opcode = kOpcode[op];
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(s.data + off);
  sqe->len = static_cast<uint32_t>(len);
  if (op == kOpSend) sqe->msg_flags = MSG_NOSIGNAL;  // a closed peer is -EPIPE, not SIGPIPE
  if (op == kOpRead || op == kOpWrite) sqe->off = static_cast<uint64_t>(-1);  // current position
  records_[index].slot = slot;
  Commit(sqe, index);
  return 0;
}

int UringBackend::accept(int32_t token, int fd) {
  if (fd < 0) return ring_fd_ < 0 ? -EBADF : -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, kOpAccept, &sqe, &index);
  if (rc < 0) return rc;
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = fd;
  sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  Commit(sqe, index);
  return 0;
}

int UringBackend::connect(int32_t token, int fd, const void* addr, size_t addrlen) {
  if (fd < 0 || addr == nullptr || addrlen < sizeof(sa_family_t) ||
      addrlen > sizeof(sockaddr_storage))
    return ring_fd_ < 0 ? -EBADF : -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, kOpConnect, &sqe, &index);
  if (rc < 0) return rc;
  // The kernel reads the address after this call returns (at submission, or later when the
  // connect is retried), so it lives in the operation's own record until the completion.
  memcpy(&addrs_[index], addr, addrlen);
  sqe->opcode = IORING_OP_CONNECT;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(&addrs_[index]);
  sqe->off = addrlen;
  Commit(sqe, index);
  return 0;
}

int UringBackend::recvfrom(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                           size_t addr_off) {
  if (ring_fd_ < 0) return -EBADF;
  if (slot >= slots_.size() || fd < 0) return -EINVAL;
  const Slot& s = slots_[slot];
  if (s.data == nullptr) return -ENOENT;
  if (off > s.len || len > s.len - off || len > 0x7fffffff || addr_off > s.len ||
      kRingAddrBytes > s.len - addr_off || (addr_off < off + len && off < addr_off + kRingAddrBytes))
    return -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, kOpRecvFrom, &sqe, &index);
  if (rc < 0) return rc;
  MsgRecord& m = msgs_[index];
  memset(&m.msg, 0, sizeof(m.msg));
  m.iov.iov_base = s.data + off;
  m.iov.iov_len = len;
  m.msg.msg_name = &addrs_[index];
  m.msg.msg_namelen = sizeof(sockaddr_storage);
  m.msg.msg_iov = &m.iov;
  m.msg.msg_iovlen = 1;
  m.addr_off = static_cast<uint32_t>(addr_off);
  sqe->opcode = IORING_OP_RECVMSG;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(&m.msg);
  sqe->len = 1;
  records_[index].slot = slot;
  Commit(sqe, index);
  return 0;
}

int UringBackend::sendto(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                         const void* addr, size_t addrlen) {
  if (ring_fd_ < 0) return -EBADF;
  if (slot >= slots_.size() || fd < 0 || addr == nullptr || addrlen < sizeof(sa_family_t) ||
      addrlen > sizeof(sockaddr_storage))
    return -EINVAL;
  const Slot& s = slots_[slot];
  if (s.data == nullptr) return -ENOENT;
  if (off > s.len || len > s.len - off || len > 0x7fffffff) return -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, kOpSendTo, &sqe, &index);
  if (rc < 0) return rc;
  MsgRecord& m = msgs_[index];
  memcpy(&addrs_[index], addr, addrlen);
  memset(&m.msg, 0, sizeof(m.msg));
  m.iov.iov_base = s.data + off;
  m.iov.iov_len = len;
  m.msg.msg_name = &addrs_[index];
  m.msg.msg_namelen = static_cast<socklen_t>(addrlen);
  m.msg.msg_iov = &m.iov;
  m.msg.msg_iovlen = 1;
  sqe->opcode = IORING_OP_SENDMSG;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(&m.msg);
  sqe->len = 1;
  sqe->msg_flags = MSG_NOSIGNAL;
  records_[index].slot = slot;
  Commit(sqe, index);
  return 0;
}

int UringBackend::poll(int32_t token, int fd, uint32_t events) {
  if (fd < 0 || events == 0 || (events & ~(kEvRead | kEvWrite)))
    return ring_fd_ < 0 ? -EBADF : -EINVAL;
  io_uring_sqe* sqe;
  uint32_t index;
  int rc = Begin(token, kOpPoll, &sqe, &index);
  if (rc < 0) return rc;
  uint32_t k = PollToKernel(events);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  k = (k << 16) | (k >> 16);  // poll32_events is word-swapped on big-endian
#endif
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
  sqe->poll32_events = k;
  Commit(sqe, index);
  return 0;
}

int UringBackend::QueueCancel(uint32_t index) {
  io_uring_sqe* sqe;
  int rc = GetSqe(&sqe);
  if (rc < 0) return rc;
  const OpRecord& r = records_[index];
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = (static_cast<uint64_t>(r.gen & 0x7fffffffu) << 32) | index;
  sqe->user_data = kUdCancel;
  sq_tail_++;
  return 0;
}

int UringBackend::cancel(int32_t token) {
  if (ring_fd_ < 0) return -EBADF;
  if (token < 0) return -EINVAL;
  const int32_t index = Find(token);
  if (index < 0) return -ENOENT;
  if (records_[index].cancel_requested) return 0;  // already asked; one completion follows
  int rc = QueueCancel(static_cast<uint32_t>(index));
  if (rc == 0) records_[index].cancel_requested = true;
  return rc;
}

int UringBackend::cancel_all() {
  if (ring_fd_ < 0) return -EBADF;
  if (in_flight_ == 0) return 0;
  int n = 0;
  for (uint32_t i = 0; i < records_.size(); i++) {
    OpRecord& r = records_[i];
    if (r.kind == 0 || r.cancel_requested) continue;
    int rc = QueueCancel(i);
    if (rc < 0) return rc;
    r.cancel_requested = true;
    n++;
  }
  int rc = flush();
  return rc < 0 ? rc : n;
}

int UringBackend::ArmWake() {
  io_uring_sqe* sqe;
  int rc = GetSqe(&sqe);
  if (rc < 0) return rc;
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = wake_fd_;
  uint32_t k = POLLIN;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  k = (k << 16) | (k >> 16);
#endif
  sqe->poll32_events = k;
  sqe->user_data = kUdWake;
  sq_tail_++;
  wake_armed_ = true;
  return 0;
}

int UringBackend::flush() {
  if (ring_fd_ < 0) return -EBADF;
  int total = SubmitQueued();
  if (total < 0 || wake_armed_) return total;
  // A wake poll that collect() could not re-arm (the queue was full) goes in now that there is
  // room. Arming first would recurse: a full queue makes GetSqe() flush.
  int rc = ArmWake();
  if (rc == 0) rc = SubmitQueued();
  return rc < 0 ? (total > 0 ? total : rc) : total + rc;
}

int UringBackend::SubmitQueued() {
  StoreRelease(sq_ktail_, sq_tail_);
  int total = 0;
  for (;;) {
    const uint32_t to_submit = sq_tail_ - LoadAcquire(sq_khead_);
    if (to_submit == 0) return total;
    int rc = Enter(ring_fd_, to_submit, 0, 0, nullptr, 0);
    if (rc == -EINTR) continue;
    if (rc < 0) return total > 0 ? total : rc;
    if (rc == 0) return total;
    total += rc;
  }
}

int UringBackend::wait(int timeout_ms) {
  if (ring_fd_ < 0) return -EBADF;
  if (timeout_ms == 0 || CqReady() || Overflowed()) {
    int rc = flush();
    return rc < 0 && rc != -EBUSY ? rc : 0;
  }
  if (!wake_armed_) {
    int rc = ArmWake();
    if (rc < 0) return rc;
  }
  unsigned flags = IORING_ENTER_GETEVENTS;
  GeteventsArg arg{};
  KernelTimespec ts{};
  const void* argp = nullptr;
  size_t argsz = 0;
  if (timeout_ms > 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    if (ext_arg_) {
      arg.sigmask = 0;
      arg.sigmask_sz = _NSIG / 8;
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      argp = &arg;
      argsz = sizeof(arg);
      flags |= IORING_ENTER_EXT_ARG;
    } else {
      io_uring_sqe* sqe;
      int rc = GetSqe(&sqe);
      if (rc < 0) return rc;
      ts_ = ts;
      sqe->opcode = IORING_OP_TIMEOUT;
      sqe->fd = -1;
      sqe->addr = reinterpret_cast<uint64_t>(&ts_);
      sqe->len = 1;
      sqe->off = 1;  // also complete as soon as one other completion arrives
      sqe->user_data = kUdTimeout;
      sq_tail_++;
    }
  }
  StoreRelease(sq_ktail_, sq_tail_);
  for (;;) {
    const uint32_t to_submit = sq_tail_ - LoadAcquire(sq_khead_);
    int rc = Enter(ring_fd_, to_submit, 1, flags, argp, argsz);
    // The kernel waits only once everything was submitted; after a partial submission go again.
    if (rc >= 0 && static_cast<uint32_t>(rc) < to_submit) continue;
    if (rc == -EINTR || rc == -ETIME || rc >= 0) return 0;
    // -EBUSY: completions are backed up (overflow); the caller collects them.
    if (rc == -EBUSY) return 0;
    return rc;
  }
}

int UringBackend::collect(int32_t* out, int capacity) {
  if (ring_fd_ < 0) return 0;
  int n = 0;
  bool woke = false;
  for (;;) {
    uint32_t head = *cq_khead_;
    const uint32_t tail = LoadAcquire(cq_ktail_);
    while (head != tail && n < capacity) {
      const io_uring_cqe& cqe = cqes_[head & cq_mask_];
      const uint64_t ud = cqe.user_data;
      const int32_t res = cqe.res;
      head++;
      if (ud & kUdInternal) {
        if (ud == kUdWake) {
          // Reset the counter before re-arming, or the new poll would fire at once. The read
          // fails with EAGAIN when the counter is already 0; that is fine.
          uint64_t v;
          if (::read(wake_fd_, &v, sizeof(v)) < 0) {
          }
          wake_armed_ = false;
          if (!woke) {
            woke = true;
            int32_t* t = out + 3 * n++;
            t[0] = kRingTokenWakeup;
            t[1] = 0;
            t[2] = 0;
          }
        }
        continue;  // cancels' and timeouts' own results tell the caller nothing
      }
      const uint32_t index = static_cast<uint32_t>(ud & 0xffffffffu);
      if (index >= records_.size()) continue;
      OpRecord& r = records_[index];
      if (r.kind == 0 || (r.gen & 0x7fffffffu) != static_cast<uint32_t>(ud >> 32)) continue;
      if (r.kind == kOpRecvFrom && res >= 0) {
        const MsgRecord& m = msgs_[index];
        EncodeKernelAddr(slots_[r.slot].data + m.addr_off, &addrs_[index], m.msg.msg_namelen);
      }
      int32_t* t = out + 3 * n++;
      t[0] = r.token;
      t[1] = (r.kind == kOpPoll && res >= 0) ? static_cast<int32_t>(PollFromKernel(res)) : res;
      t[2] = static_cast<int32_t>(r.kind | (r.cancel_requested ? static_cast<uint32_t>(kCqCancelRequested) : 0u));
      Release(index);
    }
    StoreRelease(cq_khead_, head);
    // Completions the kernel kept aside while the CQ was full come in with GETEVENTS, as many
    // as there is room for; go round until the batch is full or nothing more comes.
    if (n >= capacity || !Overflowed()) break;
    if (Enter(ring_fd_, 0, 0, IORING_ENTER_GETEVENTS, nullptr, 0) < 0 || !CqReady()) break;
  }
  if (!wake_armed_) {
    // Queued here, handed over by the next flush() or wait(). If the queue is full and the
    // kernel refuses more (-EBUSY), flush() arms it later.
    if (ArmWake() < 0) wake_armed_ = false;
  }
  return n;
}

int UringBackend::wakeup() {
  if (wake_fd_ < 0) return -EBADF;
  const uint64_t one = 1;
  for (;;) {
    if (::write(wake_fd_, &one, sizeof(one)) >= 0) return 0;
    if (errno == EINTR) continue;
    return errno == EAGAIN ? 0 : -errno;  // a full counter is already "woken"
  }
}

void UringBackend::close() {
  // Closing the ring fd makes the kernel cancel whatever is still in flight; the caller has
  // waited for its buffers' operations (in_flight() == 0) when it could.
  if (sqes_ != nullptr) munmap(sqes_, sqes_len_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_len_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_len_);
  sqes_ = nullptr;
  cq_map_ = sq_map_ = nullptr;
  if (ring_fd_ >= 0) ::close(ring_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  ring_fd_ = wake_fd_ = -1;
  in_flight_ = 0;
  wake_armed_ = false;
  std::vector<OpRecord>().swap(records_);
  std::vector<sockaddr_storage>().swap(addrs_);
  std::vector<MsgRecord>().swap(msgs_);
  std::vector<uint32_t>().swap(free_);
  std::vector<int32_t>().swap(cells_);
  std::vector<Slot>().swap(slots_);
}

}  // namespace

CompletionBackend* NewUringBackend() { return new UringBackend(); }

}  // namespace asyncoro

#else  // !__linux__

namespace asyncoro {
CompletionBackend* NewUringBackend() { return nullptr; }
}  // namespace asyncoro

#endif

// The completion contract: what every completion backend (io_uring, IOCP) implements.
// The readiness contract (poller.h) says "this fd is ready, now you do the I/O"; this one says
// "do this I/O into that buffer, and tell me when it is done". The adapter (js_ring.cc) is written
// against this header only.
//
// Rules every backend keeps:
// - Calls never throw and never block, except wait(); they return 0 (or a count) or -errno.
// - Buffers belong to the caller, registered once by slot (set_buffer); an operation names a slot
//   and a range in it, so nothing is allocated or copied per operation. A slot with operations in
//   flight cannot be changed (-EBUSY).
// - Every operation carries the caller's token (>= 0, unique among the operations in flight:
//   -EEXIST otherwise) and produces exactly one completion, [token, result, flags]: result is a
//   byte count, a new fd (accept), our event bits (poll), 0 (connect), or -errno. A cancelled
//   operation completes with -ECANCELED, or with its own result if it finished first (an
//   operation a kernel thread had already started may also end with -EINTR).
// - Operations are queued by the submit calls and reach the kernel in one syscall, at flush() or
//   wait(). A full submission queue is flushed and the call retried inside the backend. (IOCP
//   has no submission queue: each call starts its operation, and flush() has nothing to do.)
// - The kernel may write into a buffer until its operation's completion is collected, so the
//   caller keeps buffers alive until in_flight() is 0: before close(), cancel_all() and collect()
//   until then (js_ring.cc does, with a bound on the wait).
// - Negative tokens are reserved: kRingTokenWakeup reports wakeup() (once per batch at most).
#ifndef ASYNCORO_COMPLETION_H_
#define ASYNCORO_COMPLETION_H_

#include <cstddef>
#include <cstdint>

namespace asyncoro {

// Operation kinds; a completion's flags carry its kind in the low bits (kCqKindMask).
enum RingOp : uint32_t {
  kOpRecv = 1,     // recv(2) from a socket into a buffer range
  kOpSend = 2,     // send(2) of a buffer range on a socket, MSG_NOSIGNAL
  kOpRead = 3,     // read(2) for fds that are not sockets (pipes, ttys), at the current position
  kOpWrite = 4,    // write(2) for fds that are not sockets
  kOpAccept = 5,   // accept4(2), the new fd non-blocking and close-on-exec
  kOpConnect = 6,  // connect(2) to a sockaddr copied into the operation's own storage
  kOpPoll = 7,     // one-shot readiness (kEvRead/kEvWrite asked, our kEv* bits reported)
  kOpRecvFrom = 8, // one datagram into a buffer range, its sender's address into the same slot
  kOpSendTo = 9,   // one datagram from a buffer range to an address copied into the operation
  kOpCount = 10,
};

enum : uint32_t {
  kCqKindMask = 0xff,
  kCqCancelRequested = 1u << 8,  // cancel() was called for this operation before it completed
};

enum : int32_t { kRingTokenWakeup = -1 };

// The size of an encoded address (a sockaddr_storage, as sockets.cc encodes it), for recvfrom.
constexpr size_t kRingAddrBytes = 128;

// Feature bits a completion backend announces.
enum : uint32_t {
  kRingFeatPollableFd = 1u << 0,  // fd() is readable while completions wait: integrated mode
  kRingFeatWaitTimeout = 1u << 1, // wait() with a timeout needs no timeout operation (EXT_ARG)
  kRingFeatThreadWait = 1u << 2,  // wait() may block in another thread while this one submits
                                  // and collects (thread mode): it only dequeues
};

struct RingLimits {
  uint32_t entries = 256;  // submission queue size (the kernel may round it up)
  uint32_t max_ops = 4096; // operations in flight at once (preallocated records)
  uint32_t slots = 64;     // buffer slots
  uint32_t cq_entries = 0; // completion queue size; 0: room for max_ops and the internal ones
  bool timeout_op = false; // test hook: wait() with a timeout operation even where EXT_ARG works
};

class CompletionBackend {
 public:
  virtual ~CompletionBackend() = default;
  virtual const char* name() const = 0;
  virtual uint32_t features() const = 0;
  // Bit (1 << kind) for each RingOp this kernel can do, known after open().
  virtual uint32_t ops() const = 0;
  // Opens the kernel object and preallocates every table. 0 or -errno.
  virtual int open(const RingLimits& limits) = 0;
  // The backend's own fd (kRingFeatPollableFd) or -1; the wake fd for another thread, or -1.
  virtual int fd() const = 0;
  virtual int wake_fd() const = 0;
  // Sets (data != nullptr) or clears a buffer slot. -EINVAL bad slot, -EBUSY operations in flight
  // on it, -EEXIST already set, -ENOENT clearing an empty slot.
  virtual int set_buffer(uint32_t slot, uint8_t* data, size_t len) = 0;
  // Queues an operation. A range outside its slot is -EINVAL, an empty slot -ENOENT, a full
  // operation table -ENOBUFS, an operation this kernel lacks -EOPNOTSUPP; -EBUSY when the
  // queue is full and the kernel will not take more before completions are collected.
  virtual int transfer(RingOp op, int32_t token, int fd, uint32_t slot, size_t off,
                       size_t len) = 0;  // recv, send, read, write
  virtual int accept(int32_t token, int fd) = 0;
  virtual int connect(int32_t token, int fd, const void* addr, size_t addrlen) = 0;
  // One datagram into slot[off, off + len); when it completes, the sender's address is written
  // into slot[addr_off, addr_off + kRingAddrBytes) in the encoding of the socket calls
  // (sockets.cc). The two ranges must not overlap.
  virtual int recvfrom(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                       size_t addr_off) = 0;
  // One datagram from slot[off, off + len) to addr, which is copied into the operation.
  virtual int sendto(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                     const void* addr, size_t addrlen) = 0;
  virtual int poll(int32_t token, int fd, uint32_t events) = 0;
  // Asks the kernel to cancel the operation with this token: 0, or -ENOENT if none is in flight.
  virtual int cancel(int32_t token) = 0;
  // Hands what is queued to the kernel: the number handed over, or -errno.
  virtual int flush() = 0;
  // Flushes, then waits up to timeout_ms (-1: forever, 0: not at all) for a completion. 0 or -errno.
  virtual int wait(int timeout_ms) = 0;
  // Moves at most `capacity` completions into out as triples; returns the count.
  virtual int collect(int32_t* out, int capacity) = 0;
  // Thread-safe: makes a waiter return and collect() report one kRingTokenWakeup triple.
  virtual int wakeup() = 0;
  virtual uint32_t in_flight() const = 0;  // operations submitted and not yet collected
  virtual uint32_t queued() const = 0;     // submission entries not yet handed to the kernel
  // Queues a cancel for every operation in flight and flushes; their completions follow through
  // collect(). Returns how many were asked to cancel, or -errno.
  virtual int cancel_all() = 0;
  // Releases the kernel object and tables; idempotent.
  virtual void close() = 0;
};

// Returns nullptr where io_uring is not compiled in (not Linux).
CompletionBackend* NewUringBackend();
// Returns nullptr where IOCP is not compiled in (not Windows).
CompletionBackend* NewIocpBackend();

}  // namespace asyncoro

#endif  // ASYNCORO_COMPLETION_H_

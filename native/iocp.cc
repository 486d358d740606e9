// The IOCP completion backend (Windows): overlapped Winsock operations on one I/O completion port.
//
// Some facts about IOCP and Winsock, and what this file does about them:
// - A socket is associated with one completion port for its life (CreateIoCompletionPort), and
//   every overlapped operation on it then posts one packet to that port when it ends, carrying the
//   OVERLAPPED pointer it was given. Ours is the first member of the operation's record, so the
//   packet leads back to the record; the records are allocated at open() and never move.
//   Associating a socket that already is fails with ERROR_INVALID_PARAMETER, so every operation
//   simply tries (one cheap call) and takes that error as "done before". A socket associated with
//   another scheduler's port stays there: one socket, one scheduler.
// - Completion notification modes are left as they are: an operation that completes at once
//   still posts its packet, so each operation ends exactly once, through collect(). One that
//   fails at once posts nothing; this file posts a packet for it itself (PostQueuedCompletionStatus
//   with the record), so a bad socket is a completion here too, as on io_uring.
// - Overlapped operations work on non-blocking sockets (the flag affects only the plain calls),
//   so the socket layer's non-blocking recv/send first and these operations second can be mixed.
// - AcceptEx needs the socket the connection will be accepted on, made beforehand with the
//   listener's family; on success SO_UPDATE_ACCEPT_CONTEXT makes it a normal connected socket.
//   ConnectEx needs a bound socket (we bind the wildcard address if bind() has not been called)
//   and SO_UPDATE_CONNECT_CONTEXT afterwards. Both are extension functions found through
//   WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) once per ring.
// - A packet's status is an NTSTATUS in OVERLAPPED.Internal. WSAGetOverlappedResult() turns it
//   into a Winsock error while the socket exists; a cancelled operation is STATUS_CANCELLED
//   whether or not it does. A datagram longer than the buffer ends with STATUS_BUFFER_OVERFLOW
//   (WSAEMSGSIZE) and the buffer full: reported as that many bytes, as recvfrom(2) does on POSIX.
// - CancelIoEx(socket, overlapped) cancels one operation; its packet still comes, with
//   STATUS_CANCELLED, or with its result if it had finished first (ERROR_NOT_FOUND then).
// - There is no readiness on a completion port. poll() is emulated the way libuv reads: a
//   zero-byte WSARecv with MSG_PEEK completes when data (or the end, or an error) is there
//   without taking it; a zero-byte WSASend completes once the connection can take data, which on
//   Windows is at once (sends are buffered in the kernel).
// - GetQueuedCompletionStatusEx dequeues up to a batch of packets at once. wait() only dequeues,
//   into this backend's own array, and touches nothing else, so a thread may block in it while
//   the JavaScript thread submits (kRingFeatThreadWait); collect() turns the array into triples.
// - A completion port has no fd another loop could watch: no integrated mode.
#include "completion.h"

#if defined(_WIN32)

#include <cstring>
#include <vector>

#include "addr.h"
#include "platform.h"
#include "poller.h"

namespace asyncoro {
namespace {

constexpr ULONG_PTR kKeySocket = 0;  // packets of operations the kernel ran
constexpr ULONG_PTR kKeyPosted = 1;  // packets we posted for operations that failed at once
constexpr ULONG_PTR kKeyWake = 2;    // wakeup()

// NTSTATUS values the packets carry (ntstatus.h is not part of the Winsock headers).
constexpr ULONG_PTR kStatusSuccess = 0;
constexpr ULONG_PTR kStatusBufferOverflow = 0x80000005;
constexpr ULONG_PTR kStatusCancelled = 0xC0000120;

constexpr size_t kAcceptAddrBytes = sizeof(sockaddr_storage) + 16;  // AcceptEx's rule

struct OpRecord {
  OVERLAPPED ov;  // first: a packet's OVERLAPPED pointer is the record's address
  WSABUF wsabuf;
  SOCKET sock = INVALID_SOCKET;
  SOCKET accepted = INVALID_SOCKET;  // AcceptEx's new socket until the operation ends
  int32_t token = -1;
  uint32_t kind = 0;  // 0: free
  uint32_t slot = UINT32_MAX;
  uint32_t addr_off = 0;
  int addrlen = 0;  // WSARecvFrom's in/out length
  DWORD flags = 0;  // WSARecv's in/out flags
  int32_t posted = 0;  // the -errno of an operation that failed at submission
  bool cancel_requested = false;
  union {
    sockaddr_storage addr;  // connect's and sendto's target, recvfrom's sender
    uint8_t accept_buf[2 * kAcceptAddrBytes];
  };
  OpRecord() { std::memset(&ov, 0, sizeof(ov)); }
};

struct Slot {
  uint8_t* data = nullptr;
  size_t len = 0;
  uint32_t busy = 0;
};

class IocpBackend final : public CompletionBackend {
 public:
  ~IocpBackend() override { close(); }
  const char* name() const override { return "iocp"; }
  uint32_t features() const override { return kRingFeatThreadWait; }
  uint32_t ops() const override {
    return (1u << kOpRecv) | (1u << kOpSend) | (1u << kOpAccept) | (1u << kOpConnect) |
           (1u << kOpPoll) | (1u << kOpRecvFrom) | (1u << kOpSendTo);
  }
  int fd() const override { return -1; }
  int wake_fd() const override { return -1; }
  uint32_t in_flight() const override { return in_flight_; }
  uint32_t queued() const override { return 0; }

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
  int flush() override { return port_ == nullptr ? -EBADF : 0; }
  int wait(int timeout_ms) override;
  int collect(int32_t* out, int capacity) override;
  int wakeup() override;
  int cancel_all() override;
  void close() override;

 private:
  int Begin(int32_t token, RingOp kind, int fd, uint32_t* index);
  // Ends a submission: the operation is in flight whether the call started it (rc == 0) or
  // failed at once (rc < 0: a packet is posted with that error).
  int Started(uint32_t index, int rc);
  void Release(uint32_t index);
  int Result(OpRecord& r, const OVERLAPPED_ENTRY& e);
  int RangeOk(uint32_t slot, size_t off, size_t len) const;
  void* Extension(SOCKET s, GUID id, void** cache);
  uint32_t Home(int32_t token) const { return (static_cast<uint32_t>(token) * 0x9E3779B1u) & cells_mask_; }
  int32_t Find(int32_t token) const;
  void Insert(uint32_t index);
  void Erase(int32_t token);

  HANDLE port_ = nullptr;
  std::vector<OpRecord> records_;
  std::vector<uint32_t> free_;
  std::vector<int32_t> cells_;  // token -> record index, open addressing as in uring.cc
  uint32_t cells_mask_ = 0;
  std::vector<Slot> slots_;
  uint32_t in_flight_ = 0;
  // What wait() dequeued and collect() has not yet handed over.
  std::vector<OVERLAPPED_ENTRY> entries_;
  ULONG entry_count_ = 0;
  ULONG entry_pos_ = 0;
  volatile LONG wake_posted_ = 0;
  void* accept_ex_ = nullptr;
  void* connect_ex_ = nullptr;
};

int IocpBackend::open(const RingLimits& limits) {
  if (limits.max_ops == 0 || limits.entries == 0) return -EINVAL;
  port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (port_ == nullptr) return -ErrnoFromWin(static_cast<int>(GetLastError()));
  records_ = std::vector<OpRecord>(limits.max_ops);
  free_.resize(limits.max_ops);
  for (uint32_t i = 0; i < limits.max_ops; i++) free_[i] = limits.max_ops - 1 - i;
  uint32_t cells = 16;
  while (cells < 2 * limits.max_ops) cells <<= 1;
  cells_.assign(cells, -1);
  cells_mask_ = cells - 1;
  slots_.assign(limits.slots, Slot());
  entries_.resize(limits.entries < 1024 ? limits.entries : 1024);
  return 0;
}

int32_t IocpBackend::Find(int32_t token) const {
  for (uint32_t i = Home(token);; i = (i + 1) & cells_mask_) {
    const int32_t c = cells_[i];
    if (c < 0) return -1;
    if (records_[c].token == token) return c;
  }
}

void IocpBackend::Insert(uint32_t index) {
  uint32_t i = Home(records_[index].token);
  while (cells_[i] >= 0) i = (i + 1) & cells_mask_;
  cells_[i] = static_cast<int32_t>(index);
}

void IocpBackend::Erase(int32_t token) {
  uint32_t i = Home(token);
  while (cells_[i] >= 0 && records_[cells_[i]].token != token) i = (i + 1) & cells_mask_;
  if (cells_[i] < 0) return;
  cells_[i] = -1;
  for (uint32_t j = (i + 1) & cells_mask_; cells_[j] >= 0; j = (j + 1) & cells_mask_) {
    const uint32_t k = Home(records_[cells_[j]].token);
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    cells_[i] = cells_[j];
    cells_[j] = -1;
    i = j;
  }
}

int IocpBackend::set_buffer(uint32_t slot, uint8_t* data, size_t len) {
  if (port_ == nullptr) return -EBADF;
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

int IocpBackend::RangeOk(uint32_t slot, size_t off, size_t len) const {
  if (slot >= slots_.size()) return -EINVAL;
  const Slot& s = slots_[slot];
  if (s.data == nullptr) return -ENOENT;
  // A WSABUF's length is a ULONG, and a result an int32.
  if (off > s.len || len > s.len - off || len > 0x7fffffff) return -EINVAL;
  return 0;
}

// Takes a free record for an operation on fd and associates the socket with the port.
int IocpBackend::Begin(int32_t token, RingOp kind, int fd, uint32_t* index) {
  if (port_ == nullptr) return -EBADF;
  if (token < 0 || fd < 0) return -EINVAL;
  if (free_.empty()) return -ENOBUFS;
  if (Find(token) >= 0) return -EEXIST;
  *index = free_.back();
  OpRecord& r = records_[*index];
  std::memset(&r.ov, 0, sizeof(r.ov));
  r.sock = SockOf(fd);
  r.accepted = INVALID_SOCKET;
  r.token = token;
  r.kind = kind;
  r.slot = UINT32_MAX;
  r.flags = 0;
  r.posted = 0;
  r.cancel_requested = false;
  free_.pop_back();
  Insert(*index);
  in_flight_++;
  if (CreateIoCompletionPort(reinterpret_cast<HANDLE>(r.sock), port_, kKeySocket, 0) == nullptr) {
    const DWORD err = GetLastError();
    // Associated before (with this port, by an earlier operation): nothing to do.
    if (err != ERROR_INVALID_PARAMETER) {
      // Not a socket, or closed: the operation completes with the error (r.posted says so).
      const int rc = Started(*index, -ErrnoFromWin(static_cast<int>(err)));
      if (rc < 0) return rc;
    }
  }
  return 0;
}

int IocpBackend::Started(uint32_t index, int rc) {
  if (rc == 0) return 0;
  OpRecord& r = records_[index];
  r.posted = rc;
  if (!PostQueuedCompletionStatus(port_, 0, kKeyPosted, &r.ov)) {
    // The port refuses packets (out of memory): the operation never happened.
    Release(index);
    return -ErrnoFromWin(static_cast<int>(GetLastError()));
  }
  return 0;
}

void IocpBackend::Release(uint32_t index) {
  OpRecord& r = records_[index];
  Erase(r.token);
  if (r.slot != UINT32_MAX) slots_[r.slot].busy--;
  if (r.accepted != INVALID_SOCKET) closesocket(r.accepted);
  r.accepted = INVALID_SOCKET;
  r.kind = 0;
  r.token = -1;
  r.slot = UINT32_MAX;
  free_.push_back(index);
  in_flight_--;
}

// One overlapped call's outcome: 0 when it runs (pending, or done with its packet queued), else
// -errno (nothing queued).
int Issued(int rc) {
  if (rc == 0) return 0;
  const int err = WSAGetLastError();
  return err == WSA_IO_PENDING ? 0 : -ErrnoFromWin(err);
}

int IocpBackend::transfer(RingOp op, int32_t token, int fd, uint32_t slot, size_t off,
                          size_t len) {
  // read/write are for fds that are not sockets; on Windows every fd here is a socket.
  if (op == kOpRead || op == kOpWrite) return port_ == nullptr ? -EBADF : -EOPNOTSUPP;
  if (op != kOpRecv && op != kOpSend) return -EINVAL;
  if (port_ == nullptr) return -EBADF;
  int rc = RangeOk(slot, off, len);
  if (rc < 0) return rc;
  uint32_t index;
  rc = Begin(token, op, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;  // failed at association; its packet is posted
  r.slot = slot;
  slots_[slot].busy++;
  r.wsabuf.buf = reinterpret_cast<char*>(slots_[slot].data + off);
  r.wsabuf.len = static_cast<ULONG>(len);
  const int call = op == kOpRecv ? WSARecv(r.sock, &r.wsabuf, 1, nullptr, &r.flags, &r.ov, nullptr)
                                 : WSASend(r.sock, &r.wsabuf, 1, nullptr, 0, &r.ov, nullptr);
  return Started(index, Issued(call));
}

void* IocpBackend::Extension(SOCKET s, GUID id, void** cache) {
  if (*cache != nullptr) return *cache;
  void* fn = nullptr;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &fn, sizeof(fn), &bytes,
               nullptr, nullptr) != 0)
    return nullptr;
  *cache = fn;
  return fn;
}

int IocpBackend::accept(int32_t token, int fd) {
  uint32_t index;
  int rc = Begin(token, kOpAccept, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;
  sockaddr_storage name;
  int namelen = sizeof(name);
  if (getsockname(r.sock, reinterpret_cast<sockaddr*>(&name), &namelen) != 0)
    return Started(index, LastSocketError());
  GUID id = WSAID_ACCEPTEX;
  auto fn = reinterpret_cast<LPFN_ACCEPTEX>(Extension(r.sock, id, &accept_ex_));
  if (fn == nullptr) return Started(index, LastSocketError());
  r.accepted = WSASocketW(name.ss_family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (r.accepted == INVALID_SOCKET) return Started(index, LastSocketError());
  DWORD bytes = 0;
  const BOOL ok = fn(r.sock, r.accepted, r.accept_buf, 0, kAcceptAddrBytes, kAcceptAddrBytes,
                     &bytes, &r.ov);
  return Started(index, Issued(ok ? 0 : SOCKET_ERROR));
}

int IocpBackend::connect(int32_t token, int fd, const void* addr, size_t addrlen) {
  if (addr == nullptr || addrlen < sizeof(ADDRESS_FAMILY) || addrlen > sizeof(sockaddr_storage))
    return port_ == nullptr ? -EBADF : -EINVAL;
  uint32_t index;
  int rc = Begin(token, kOpConnect, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;
  std::memcpy(&r.addr, addr, addrlen);
  r.addrlen = static_cast<int>(addrlen);
  // ConnectEx wants a bound socket: bind the wildcard address unless bind() was called.
  sockaddr_storage any;
  std::memset(&any, 0, sizeof(any));
  any.ss_family = r.addr.ss_family;
  const int anylen = any.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(r.sock, reinterpret_cast<sockaddr*>(&any), anylen) != 0 && WSAGetLastError() != WSAEINVAL)
    return Started(index, LastSocketError());
  GUID id = WSAID_CONNECTEX;
  auto fn = reinterpret_cast<LPFN_CONNECTEX>(Extension(r.sock, id, &connect_ex_));
  if (fn == nullptr) return Started(index, LastSocketError());
  const BOOL ok = fn(r.sock, reinterpret_cast<sockaddr*>(&r.addr), r.addrlen, nullptr, 0,
                     nullptr, &r.ov);
  return Started(index, Issued(ok ? 0 : SOCKET_ERROR));
}

int IocpBackend::recvfrom(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                          size_t addr_off) {
  if (port_ == nullptr) return -EBADF;
  int rc = RangeOk(slot, off, len);
  if (rc < 0) return rc;
  const size_t slen = slots_[slot].len;
  if (addr_off > slen || kRingAddrBytes > slen - addr_off ||
      (addr_off < off + len && off < addr_off + kRingAddrBytes))
    return -EINVAL;
  uint32_t index;
  rc = Begin(token, kOpRecvFrom, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;
  r.slot = slot;
  slots_[slot].busy++;
  r.addr_off = static_cast<uint32_t>(addr_off);
  r.addrlen = sizeof(sockaddr_storage);
  r.wsabuf.buf = reinterpret_cast<char*>(slots_[slot].data + off);
  r.wsabuf.len = static_cast<ULONG>(len);
  const int call = WSARecvFrom(r.sock, &r.wsabuf, 1, nullptr, &r.flags,
                               reinterpret_cast<sockaddr*>(&r.addr), &r.addrlen, &r.ov, nullptr);
  return Started(index, Issued(call));
}

int IocpBackend::sendto(int32_t token, int fd, uint32_t slot, size_t off, size_t len,
                        const void* addr, size_t addrlen) {
  if (port_ == nullptr) return -EBADF;
  if (addr == nullptr || addrlen < sizeof(ADDRESS_FAMILY) || addrlen > sizeof(sockaddr_storage))
    return -EINVAL;
  int rc = RangeOk(slot, off, len);
  if (rc < 0) return rc;
  uint32_t index;
  rc = Begin(token, kOpSendTo, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;
  r.slot = slot;
  slots_[slot].busy++;
  std::memcpy(&r.addr, addr, addrlen);
  r.addrlen = static_cast<int>(addrlen);
  r.wsabuf.buf = reinterpret_cast<char*>(slots_[slot].data + off);
  r.wsabuf.len = static_cast<ULONG>(len);
  const int call = WSASendTo(r.sock, &r.wsabuf, 1, nullptr, 0,
                             reinterpret_cast<sockaddr*>(&r.addr), r.addrlen, &r.ov, nullptr);
  return Started(index, Issued(call));
}

int IocpBackend::poll(int32_t token, int fd, uint32_t events) {
  if (events == 0 || (events & ~(kEvRead | kEvWrite))) return port_ == nullptr ? -EBADF : -EINVAL;
  uint32_t index;
  int rc = Begin(token, kOpPoll, fd, &index);
  if (rc < 0) return rc;
  OpRecord& r = records_[index];
  if (r.posted != 0) return 0;
  // The record remembers the direction in addr_off (no slot is involved).
  r.addr_off = (events & kEvWrite) ? kEvWrite : kEvRead;
  r.wsabuf.buf = nullptr;
  r.wsabuf.len = 0;
  int call;
  if (r.addr_off == kEvWrite) {
    call = WSASend(r.sock, &r.wsabuf, 1, nullptr, 0, &r.ov, nullptr);
  } else {
    r.flags = MSG_PEEK;
    call = WSARecv(r.sock, &r.wsabuf, 1, nullptr, &r.flags, &r.ov, nullptr);
  }
  return Started(index, Issued(call));
}

int IocpBackend::cancel(int32_t token) {
  if (port_ == nullptr) return -EBADF;
  if (token < 0) return -EINVAL;
  const int32_t index = Find(token);
  if (index < 0) return -ENOENT;
  OpRecord& r = records_[index];
  if (r.cancel_requested) return 0;
  r.cancel_requested = true;
  // ERROR_NOT_FOUND: it finished (or failed at submission); its packet is on the way.
  if (r.posted == 0) CancelIoEx(reinterpret_cast<HANDLE>(r.sock), &r.ov);
  return 0;
}

int IocpBackend::cancel_all() {
  if (port_ == nullptr) return -EBADF;
  int n = 0;
  for (uint32_t i = 0; i < records_.size(); i++) {
    OpRecord& r = records_[i];
    if (r.kind == 0 || r.cancel_requested) continue;
    r.cancel_requested = true;
    if (r.posted == 0) CancelIoEx(reinterpret_cast<HANDLE>(r.sock), &r.ov);
    n++;
  }
  return n;
}

int IocpBackend::wait(int timeout_ms) {
  if (port_ == nullptr) return -EBADF;
  if (entry_pos_ < entry_count_) return 0;
  ULONG n = 0;
  const DWORD ms = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  if (!GetQueuedCompletionStatusEx(port_, entries_.data(), static_cast<ULONG>(entries_.size()), &n,
                                   ms, FALSE)) {
    const DWORD err = GetLastError();
    if (err == WAIT_TIMEOUT) return 0;
    return -ErrnoFromWin(static_cast<int>(err));
  }
  entry_count_ = n;
  entry_pos_ = 0;
  return 0;
}

// The result triple's value for a finished operation.
int IocpBackend::Result(OpRecord& r, const OVERLAPPED_ENTRY& e) {
  if (e.lpCompletionKey == kKeyPosted) return r.posted;
  const ULONG_PTR status = r.ov.Internal;
  const int32_t bytes = static_cast<int32_t>(e.dwNumberOfBytesTransferred);
  if (status == kStatusCancelled) return -ECANCELED;
  int err = 0;
  if (status == kStatusBufferOverflow) {
    err = 0;  // a datagram cut to the buffer: the bytes that fit
  } else if (status != kStatusSuccess) {
    DWORD got = 0, flags = 0;
    err = WSAGetOverlappedResult(r.sock, &r.ov, &got, FALSE, &flags) ? 0 : WSAGetLastError();
    if (err == 0 || err == WSAEMSGSIZE) err = 0;
    else if (err == WSA_OPERATION_ABORTED) return -ECANCELED;
    else if (err == WSAENOTSOCK) err = WSAECONNABORTED;  // the socket was closed under it
  }
  switch (r.kind) {
    case kOpPoll:
      // Readiness of a direction; an error is reported as readiness with the error bit, and the
      // next call on the socket tells which error.
      return static_cast<int32_t>(r.addr_off | (err != 0 ? kEvError : 0u));
    case kOpAccept: {
      if (err != 0) return -ErrnoFromWin(err);
      SOCKET s = r.accepted;
      if (setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, reinterpret_cast<char*>(&r.sock),
                     sizeof(r.sock)) != 0)
        return LastSocketError();
      u_long on = 1;
      if (ioctlsocket(s, FIONBIO, &on) != 0) return LastSocketError();
      r.accepted = INVALID_SOCKET;  // it is the caller's now
      return FdOf(s);
    }
    case kOpConnect:
      if (err != 0) return -ErrnoFromWin(err);
      if (setsockopt(r.sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) != 0)
        return LastSocketError();
      return 0;
    case kOpRecvFrom:
      if (err != 0) return -ErrnoFromWin(err);
      EncodeKernelAddr(slots_[r.slot].data + r.addr_off, &r.addr, static_cast<size_t>(r.addrlen));
      return bytes;
    default:
      return err != 0 ? -ErrnoFromWin(err) : bytes;
  }
}

int IocpBackend::collect(int32_t* out, int capacity) {
  if (port_ == nullptr) return 0;
  if (entry_pos_ >= entry_count_) {
    // Nothing dequeued by wait(): take what is there now (exclusive mode calls wait() first).
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(port_, entries_.data(), static_cast<ULONG>(entries_.size()), &n,
                                     0, FALSE))
      n = 0;
    entry_count_ = n;
    entry_pos_ = 0;
  }
  int count = 0;
  bool woke = false;
  while (entry_pos_ < entry_count_ && count < capacity) {
    const OVERLAPPED_ENTRY& e = entries_[entry_pos_++];
    if (e.lpCompletionKey == kKeyWake) {
      InterlockedExchange(&wake_posted_, 0);
      if (!woke) {
        woke = true;
        int32_t* t = out + 3 * count++;
        t[0] = kRingTokenWakeup;
        t[1] = 0;
        t[2] = 0;
      }
      continue;
    }
    OpRecord* r = reinterpret_cast<OpRecord*>(e.lpOverlapped);
    const size_t index = static_cast<size_t>(r - records_.data());
    if (index >= records_.size() || r->kind == 0) continue;
    int32_t* t = out + 3 * count++;
    t[0] = r->token;
    t[1] = Result(*r, e);
    t[2] = static_cast<int32_t>(r->kind | (r->cancel_requested ? static_cast<uint32_t>(kCqCancelRequested) : 0u));
    Release(static_cast<uint32_t>(index));
  }
  return count;
}

int IocpBackend::wakeup() {
  if (port_ == nullptr) return -EBADF;
  // One packet at a time: repeated calls before it is collected coalesce.
  if (InterlockedExchange(&wake_posted_, 1) != 0) return 0;
  if (!PostQueuedCompletionStatus(port_, 0, kKeyWake, nullptr)) {
    InterlockedExchange(&wake_posted_, 0);
    return -ErrnoFromWin(static_cast<int>(GetLastError()));
  }
  return 0;
}

void IocpBackend::close() {
  // The caller has waited for in_flight() to reach 0 when it could; closing the port with
  // operations still running leaves their packets nowhere, and their AcceptEx sockets are closed.
  for (OpRecord& r : records_) {
    if (r.accepted != INVALID_SOCKET) closesocket(r.accepted);
    r.accepted = INVALID_SOCKET;
  }
  if (port_ != nullptr) CloseHandle(port_);
  port_ = nullptr;
  in_flight_ = 0;
  entry_count_ = entry_pos_ = 0;
  std::vector<OpRecord>().swap(records_);
  std::vector<uint32_t>().swap(free_);
  std::vector<int32_t>().swap(cells_);
  std::vector<Slot>().swap(slots_);
  std::vector<OVERLAPPED_ENTRY>().swap(entries_);
}

}  // namespace

CompletionBackend* NewIocpBackend() { return new IocpBackend(); }

}  // namespace asyncoro

#else  // !_WIN32

namespace asyncoro {
CompletionBackend* NewIocpBackend() { return nullptr; }
}  // namespace asyncoro

#endif

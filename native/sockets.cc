// Raw non-blocking fd and socket calls: pipes and socket pairs, socket/bind/listen/accept/connect,
// reads and writes into a caller's buffer, datagrams, shutdown, options and names. Every call
// returns a count, an fd or 0, or -errno; none throws, and EAGAIN is an ordinary return.
//
// Addresses cross the boundary as raw sockaddr bytes in a caller's Uint8Array: sockaddr() encodes
// one once (parsing the host then, not per call) and decodeAddress() reads one back, so sendto()
// and recvfrom() on the hot path parse and allocate nothing.
//
// On Windows (Winsock, see platform.h) every fd is a socket handle: read/write are recv/send,
// close is closesocket, pipe() and socketpair() make loopback socket pairs, dup() duplicates the
// socket's handle (WSADuplicateSocket), and AF_UNIX is whatever the system's afunix provider gives (Windows 10 1803 and
// later have stream sockets; where socket() refuses it, the error says so: EAFNOSUPPORT).
#if defined(_WIN32)
#include "platform.h"
#include <afunix.h>
#include <iphlpapi.h>
#else
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <net/if.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <cstddef>
#include <cstring>
#include <string>

#include "addon.h"
#include "completion.h"

#if defined(_WIN32)
#ifndef SHUT_RD
#define SHUT_RD SD_RECEIVE
#define SHUT_WR SD_SEND
#define SHUT_RDWR SD_BOTH
#endif
#define MSG_NOSIGNAL 0  // Windows has no SIGPIPE: a closed peer is an error return anyway
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#endif

namespace asyncoro {

#if defined(_WIN32)
namespace {
// Makes a socket non-blocking and keeps it out of child processes; closes it on failure.
int Prepare(SOCKET s) {
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) != 0 ||
      !SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0)) {
    const int err = LastSocketError();
    closesocket(s);
    return err;
  }
  return 0;
}

SOCKET NewSocket(int family, int type) {
  return WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}
}  // namespace

int LoopbackPair(int type, SOCKET out[2]) {
  sockaddr_in a;
  std::memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int alen = sizeof(a);
  SOCKET first = NewSocket(AF_INET, type);
  SOCKET second = NewSocket(AF_INET, type);
  SOCKET listener = INVALID_SOCKET;
  int rc = 0;
  auto fail = [&]() {
    rc = LastSocketError();
    if (first != INVALID_SOCKET) closesocket(first);
    if (second != INVALID_SOCKET) closesocket(second);
    if (listener != INVALID_SOCKET) closesocket(listener);
    return rc;
  };
  if (first == INVALID_SOCKET || second == INVALID_SOCKET) return fail();
  if (type == SOCK_DGRAM) {
    // Two datagram sockets bound to loopback and connected to each other.
    sockaddr_in b = a;
    int blen = sizeof(b);
    if (bind(first, reinterpret_cast<sockaddr*>(&a), alen) != 0 ||
        bind(second, reinterpret_cast<sockaddr*>(&b), blen) != 0 ||
        getsockname(first, reinterpret_cast<sockaddr*>(&a), &alen) != 0 ||
        getsockname(second, reinterpret_cast<sockaddr*>(&b), &blen) != 0 ||
        connect(first, reinterpret_cast<sockaddr*>(&b), blen) != 0 ||
        connect(second, reinterpret_cast<sockaddr*>(&a), alen) != 0)
      return fail();
  } else {
    // A listener on an ephemeral loopback port, one blocking connect, one accept, and the
    // listener goes. Both ends are checked to be each other's peer.
    closesocket(second);
    second = INVALID_SOCKET;
    listener = NewSocket(AF_INET, SOCK_STREAM);
    if (listener == INVALID_SOCKET ||
        bind(listener, reinterpret_cast<sockaddr*>(&a), alen) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &alen) != 0 ||
        listen(listener, 1) != 0 || connect(first, reinterpret_cast<sockaddr*>(&a), alen) != 0)
      return fail();
    second = accept(listener, nullptr, nullptr);
    if (second == INVALID_SOCKET) return fail();
    sockaddr_in local, peer;
    int llen = sizeof(local), plen = sizeof(peer);
    if (getsockname(first, reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
        getpeername(second, reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
      return fail();
    if (local.sin_port != peer.sin_port || local.sin_addr.s_addr != peer.sin_addr.s_addr) {
      WSASetLastError(WSAECONNABORTED);  // someone else's connection got in first
      return fail();
    }
    closesocket(listener);
    listener = INVALID_SOCKET;
  }
  if ((rc = Prepare(first)) < 0) {
    closesocket(second);
    return rc;
  }
  if ((rc = Prepare(second)) < 0) {
    closesocket(first);
    return rc;
  }
  out[0] = first;
  out[1] = second;
  return 0;
}
#endif

namespace {

// -errno for the last failed call: errno on POSIX, WSAGetLastError() on Windows.
inline int LastError() {
#if defined(_WIN32)
  return LastSocketError();
#else
  return -errno;
#endif
}

// Points *data/*len at a Uint8Array's bytes [off, off + len), checking bounds.
bool ByteRange(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  if (info.Length() <= i + 2 || !info[i].IsTypedArray()) return false;
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  int32_t off, n;
  if (!ArgInt(info, i + 1, &off) || !ArgInt(info, i + 2, &n) || off < 0 || n < 0) return false;
  Napi::Uint8Array bytes = ta.As<Napi::Uint8Array>();
  if (static_cast<size_t>(off) + static_cast<size_t>(n) > bytes.ElementLength()) return false;
  *data = bytes.Data() + off;
  *len = static_cast<size_t>(n);
  return true;
}

Napi::Value Ret(const Napi::CallbackInfo& info, long long rc) {
  return Napi::Number::New(info.Env(), static_cast<double>(rc < 0 ? LastError() : rc));
}

#if !defined(__linux__) && !defined(_WIN32)
int SetFlags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return -errno;
  return 0;
}
#endif

// Fills out[0], out[1] with a new pair of non-blocking, close-on-exec fds.
Napi::Value PairInto(const Napi::CallbackInfo& info, bool socket, int type) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[0].As<Napi::Int32Array>().ElementLength() < 2)
    return Napi::Number::New(info.Env(), -EINVAL);
  int32_t* out = info[0].As<Napi::Int32Array>().Data();
#if defined(_WIN32)
  // A pipe is a one-way stream: a stream pair whose first end the caller only reads.
  SOCKET pair[2];
  const int rc = LoopbackPair(socket ? type : SOCK_STREAM, pair);
  if (rc < 0) return Napi::Number::New(info.Env(), rc);
  out[0] = FdOf(pair[0]);
  out[1] = FdOf(pair[1]);
  return Napi::Number::New(info.Env(), 0);
#else
  int fds[2];
#if defined(__linux__)
  int rc = socket ? socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)
                  : pipe2(fds, O_NONBLOCK | O_CLOEXEC);
  if (rc < 0) return Napi::Number::New(info.Env(), -errno);
#else
  int rc = socket ? socketpair(AF_UNIX, type, 0, fds) : pipe(fds);
  if (rc < 0) return Napi::Number::New(info.Env(), -errno);
  for (int fd : fds) {
    if ((rc = SetFlags(fd)) < 0) {
      close(fds[0]);
      close(fds[1]);
      return Napi::Number::New(info.Env(), rc);
    }
  }
#endif
  out[0] = fds[0];
  out[1] = fds[1];
  return Napi::Number::New(info.Env(), 0);
#endif
}

// socketpair(out: Int32Array, datagram?: boolean): a Unix stream (or datagram) pair.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  bool dgram = info.Length() > 1 && info[1].ToBoolean().Value();
  return PairInto(info, true, dgram ? SOCK_DGRAM : SOCK_STREAM);
}

// pipe(out: Int32Array): out[0] is the read end, out[1] the write end.
Napi::Value Pipe(const Napi::CallbackInfo& info) { return PairInto(info, false, 0); }

// setNonBlocking(fd, on): makes an fd someone else opened usable with a poller.
Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
  const bool on = info.Length() < 2 || info[1].ToBoolean().Value();
#if defined(_WIN32)
  u_long v = on ? 1 : 0;
  return Ret(info, ioctlsocket(SockOf(fd), FIONBIO, &v) == 0 ? 0 : -1);
#else
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return Ret(info, -1);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return Ret(info, fcntl(fd, F_SETFL, fl));
#endif
}

// read(fd, buf, off, len) -> bytes read (0 at EOF) or -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len))
    return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  const int chunk = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
  return Ret(info, recv(SockOf(fd), reinterpret_cast<char*>(data), chunk, 0));
#else
  ssize_t n;
  do n = read(fd, data, len); while (n < 0 && errno == EINTR);
  return Ret(info, n);
#endif
}

// write(fd, buf, off, len) -> bytes written or -errno. Writes to a socket use send() with
// MSG_NOSIGNAL so a closed peer is EPIPE, not SIGPIPE.
Napi::Value Write(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len))
    return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  const int chunk = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
  return Ret(info, send(SockOf(fd), reinterpret_cast<const char*>(data), chunk, 0));
#else
  ssize_t n;
#if defined(MSG_NOSIGNAL)
  do n = send(fd, data, len, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ENOTSOCK) {
    do n = write(fd, data, len); while (n < 0 && errno == EINTR);
  }
#else
  do n = write(fd, data, len); while (n < 0 && errno == EINTR);
#endif
  return Ret(info, n);
#endif
}

// close(fd) -> 0 or -errno. Callers remove the fd from its poller first.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Ret(info, closesocket(SockOf(fd)));
#else
  // After EINTR the fd is closed on Linux and its number may be reused: never retry.
  return Ret(info, close(fd));
#endif
}

// dup(fd) -> a new close-on-exec fd for the same open file, or -errno.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  // A second handle for the same socket, as dup(2) gives a second fd: duplicated into this
  // process through its protocol info, overlapped and not inheritable like every socket here.
  WSAPROTOCOL_INFOW pi;
  if (WSADuplicateSocketW(SockOf(fd), GetCurrentProcessId(), &pi) != 0) return Ret(info, -1);
  SOCKET d = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &pi, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (d == INVALID_SOCKET) return Ret(info, -1);
  return Napi::Number::New(info.Env(), FdOf(d));
#else
  return Ret(info, fcntl(fd, F_DUPFD_CLOEXEC, 0));
#endif
}


// The size of every address buffer: a whole sockaddr_storage.
constexpr size_t kAddrBytes = sizeof(sockaddr_storage);
static_assert(kAddrBytes == kRingAddrBytes, "the completion contract's address size");

// The socklen of an encoded address, from its family (and for AF_UNIX its path).
socklen_t AddrLen(const sockaddr_storage* sa) {
  switch (sa->ss_family) {
    case AF_INET: return sizeof(sockaddr_in);
    case AF_INET6: return sizeof(sockaddr_in6);
    case AF_UNIX: {
      const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(sa);
      // An abstract name (leading NUL) is as long as sockaddr() recorded it after the path.
      if (un->sun_path[0] == '\0') {
        uint8_t n = reinterpret_cast<const uint8_t*>(sa)[kAddrBytes - 1];
        return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
      }
      return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                    strnlen(un->sun_path, sizeof(un->sun_path)) + 1);
    }
  }
  return 0;
}

// Reads an encoded address argument (a kAddrBytes Uint8Array).
const sockaddr_storage* AddrArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return nullptr;
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes) return nullptr;
  const sockaddr_storage* sa = reinterpret_cast<const sockaddr_storage*>(ta.As<Napi::Uint8Array>().Data());
  return AddrLen(sa) == 0 ? nullptr : sa;
}

// sockaddr(out: Uint8Array(128), family: AF_INET | AF_INET6 | AF_UNIX, host: string, port)
// Encodes an address into out: 0, or -EINVAL for a host that is not a numeric address of that
// family (names are resolved above this layer, without blocking) or a path too long.
Napi::Value SockAddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t family, port = 0;
  if (info.Length() < 3 || !info[0].IsTypedArray() || !ArgInt(info, 1, &family) ||
      !info[2].IsString() || (info.Length() > 3 && !ArgInt(info, 3, &port)) || port < 0 ||
      port > 65535)
    return Napi::Number::New(env, -EINVAL);
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes)
    return Napi::Number::New(env, -EINVAL);
  uint8_t* out = ta.As<Napi::Uint8Array>().Data();
  std::memset(out, 0, kAddrBytes);
  const std::string host = info[2].As<Napi::String>().Utf8Value();
  if (family == AF_INET) {
    sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) return Napi::Number::New(env, -EINVAL);
  } else if (family == AF_INET6) {
    sockaddr_in6* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    std::string addr = host;
    const size_t pct = addr.find('%');  // a scope id: fe80::1%eth0 or fe80::1%2
    if (pct != std::string::npos) {
      const std::string scope = addr.substr(pct + 1);
      addr.resize(pct);
      char* end = nullptr;
      unsigned long id = strtoul(scope.c_str(), &end, 10);
      if (scope.empty() || *end != '\0') id = if_nametoindex(scope.c_str());
      if (id == 0) return Napi::Number::New(env, -EINVAL);
      sin6->sin6_scope_id = static_cast<uint32_t>(id);
    }
    if (inet_pton(AF_INET6, addr.c_str(), &sin6->sin6_addr) != 1) return Napi::Number::New(env, -EINVAL);
  } else if (family == AF_UNIX) {
    sockaddr_un* un = reinterpret_cast<sockaddr_un*>(out);
    un->sun_family = AF_UNIX;
    // A leading NUL names a Linux abstract socket; its length is kept in the buffer's last byte.
    if (host.empty() || host.size() >= sizeof(un->sun_path)) return Napi::Number::New(env, -EINVAL);
    std::memcpy(un->sun_path, host.data(), host.size());
    if (host[0] == '\0') out[kAddrBytes - 1] = static_cast<uint8_t>(host.size());
  } else {
    return Napi::Number::New(env, -EAFNOSUPPORT);
  }
  return Napi::Number::New(env, 0);
}

// decodeAddress(addr: Uint8Array(128)) -> { family: 4 | 6, host, port } | { family: 'unix', path }
// | -errno. Not on a hot path: it allocates the object it returns.
Napi::Value DecodeAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) return Napi::Number::New(env, -EINVAL);
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes)
    return Napi::Number::New(env, -EINVAL);
  const uint8_t* raw = ta.As<Napi::Uint8Array>().Data();
  const sockaddr_storage* sa = reinterpret_cast<const sockaddr_storage*>(raw);
  Napi::Object o = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN + 16];
  if (sa->ss_family == AF_INET) {
    const sockaddr_in* sin = reinterpret_cast<const sockaddr_in*>(sa);
    if (inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)) == nullptr) return Napi::Number::New(env, -errno);
    o.Set("family", 4);
    o.Set("host", text);
    o.Set("port", ntohs(sin->sin_port));
  } else if (sa->ss_family == AF_INET6) {
    const sockaddr_in6* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)) == nullptr) return Napi::Number::New(env, -errno);
    std::string host(text);
    if (sin6->sin6_scope_id != 0) host += "%" + std::to_string(sin6->sin6_scope_id);
    o.Set("family", 6);
    o.Set("host", host);
    o.Set("port", ntohs(sin6->sin6_port));
  } else if (sa->ss_family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(sa);
    o.Set("family", "unix");
    if (un->sun_path[0] == '\0' && raw[kAddrBytes - 1] != 0)
      o.Set("path", std::string(un->sun_path, raw[kAddrBytes - 1]));
    else
      o.Set("path", std::string(un->sun_path, strnlen(un->sun_path, sizeof(un->sun_path))));
  } else {
    return Napi::Number::New(env, -EAFNOSUPPORT);
  }
  return o;
}

// socket(family, type) -> a non-blocking, close-on-exec socket fd, or -errno.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  int32_t family, type;
  if (!ArgInt(info, 0, &family) || !ArgInt(info, 1, &type)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  SOCKET s = NewSocket(family, type);
  if (s == INVALID_SOCKET) return Ret(info, -1);
  int rc = Prepare(s);
  if (rc < 0) return Napi::Number::New(info.Env(), rc);
  if (type == SOCK_DGRAM) {
    // An ICMP port-unreachable for an earlier datagram would fail the next recvfrom with
    // WSAECONNRESET; on POSIX an unconnected UDP socket ignores it. Ask for POSIX behaviour.
    BOOL off = FALSE;
    DWORD bytes = 0;
    WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof(off), nullptr, 0, &bytes, nullptr, nullptr);
  }
  return Napi::Number::New(info.Env(), FdOf(s));
#elif defined(SOCK_NONBLOCK)
  return Ret(info, socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
#else
  int fd = socket(family, type, 0);
  if (fd < 0) return Ret(info, -1);
  int rc = SetFlags(fd);
  if (rc < 0) {
    close(fd);
    return Napi::Number::New(info.Env(), rc);
  }
  return Napi::Number::New(info.Env(), fd);
#endif
}

// bind(fd, addr) -> 0 or -errno.
Napi::Value Bind(const Napi::CallbackInfo& info) {
  int32_t fd;
  const sockaddr_storage* sa = AddrArg(info, 1);
  if (!ArgInt(info, 0, &fd) || sa == nullptr) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Ret(info, bind(SockOf(fd), reinterpret_cast<const sockaddr*>(sa), AddrLen(sa)));
#else
  return Ret(info, bind(fd, reinterpret_cast<const sockaddr*>(sa), AddrLen(sa)));
#endif
}

// listen(fd, backlog) -> 0 or -errno.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  int32_t fd, backlog;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &backlog)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Ret(info, listen(SockOf(fd), backlog));
#else
  return Ret(info, listen(fd, backlog));
#endif
}

// accept(fd) -> a non-blocking, close-on-exec fd, or -errno (-EAGAIN when none is pending).
// The peer's address is read with getpeername() by whoever wants it, so accepting costs one call.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  SOCKET c = accept(SockOf(fd), nullptr, nullptr);
  if (c == INVALID_SOCKET) return Ret(info, -1);
  int prc = Prepare(c);
  return Napi::Number::New(info.Env(), prc < 0 ? prc : FdOf(c));
#else
  int conn;
#if defined(__linux__)
  do conn = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); while (conn < 0 && errno == EINTR);
  return Ret(info, conn);
#else
  do conn = accept(fd, nullptr, nullptr); while (conn < 0 && errno == EINTR);
  if (conn < 0) return Ret(info, -1);
  int rc = SetFlags(conn);
  if (rc < 0) {
    close(conn);
    return Napi::Number::New(info.Env(), rc);
  }
  return Napi::Number::New(info.Env(), conn);
#endif
#endif
}

// connect(fd, addr) -> 0, -EINPROGRESS (wait for writable, then read SO_ERROR), or -errno.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  int32_t fd;
  const sockaddr_storage* sa = AddrArg(info, 1);
  if (!ArgInt(info, 0, &fd) || sa == nullptr) return Napi::Number::New(info.Env(), -EINVAL);
  // A connect interrupted by a signal goes on in the background, like a non-blocking one.
#if defined(_WIN32)
  // Winsock says "would block" where POSIX says "in progress".
  if (connect(SockOf(fd), reinterpret_cast<const sockaddr*>(sa), AddrLen(sa)) == 0)
    return Napi::Number::New(info.Env(), 0);
  const int err = LastError();
  return Napi::Number::New(info.Env(), err == -EAGAIN ? -EINPROGRESS : err);
#else
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(sa), AddrLen(sa));
  if (rc < 0 && errno == EINTR) return Napi::Number::New(info.Env(), -EINPROGRESS);
  return Ret(info, rc);
#endif
}

// sendto(fd, buf, off, len, addr) -> bytes sent or -errno.
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  const sockaddr_storage* sa = AddrArg(info, 4);
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len) || sa == nullptr)
    return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Ret(info, sendto(SockOf(fd), reinterpret_cast<const char*>(data), static_cast<int>(len), 0,
                          reinterpret_cast<const sockaddr*>(sa), AddrLen(sa)));
#else
  ssize_t n;
#if defined(MSG_NOSIGNAL)
  const int flags = MSG_NOSIGNAL;
#else
  const int flags = 0;  // macOS has no MSG_NOSIGNAL; Node ignores SIGPIPE anyway
#endif
  do n = sendto(fd, data, len, flags, reinterpret_cast<const sockaddr*>(sa), AddrLen(sa));
  while (n < 0 && errno == EINTR);
  return Ret(info, n);
#endif
}

// recvfrom(fd, buf, off, len, from: Uint8Array(128)) -> bytes received or -errno; the sender's
// address is written into `from` (decode it with decodeAddress, or compare the bytes).
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len) || info.Length() < 5 ||
      !info[4].IsTypedArray())
    return Napi::Number::New(info.Env(), -EINVAL);
  Napi::TypedArray ta = info[4].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes)
    return Napi::Number::New(info.Env(), -EINVAL);
  uint8_t* from = ta.As<Napi::Uint8Array>().Data();
  socklen_t fromlen = static_cast<socklen_t>(kAddrBytes);
  std::memset(from, 0, kAddrBytes);
#if defined(_WIN32)
  long long n = ::recvfrom(SockOf(fd), reinterpret_cast<char*>(data), static_cast<int>(len), 0,
                           reinterpret_cast<sockaddr*>(from), &fromlen);
  // A datagram longer than the buffer fills it and says WSAEMSGSIZE; POSIX returns the bytes
  // that fit and drops the rest, and so do we.
  if (n < 0 && WSAGetLastError() == WSAEMSGSIZE) n = static_cast<long long>(len);
#else
  ssize_t n;
  do n = recvfrom(fd, data, len, 0, reinterpret_cast<sockaddr*>(from), &fromlen);
  while (n < 0 && errno == EINTR);
#endif
  if (n >= 0 && reinterpret_cast<sockaddr*>(from)->sa_family == AF_UNIX &&
      static_cast<size_t>(fromlen) > offsetof(sockaddr_un, sun_path) && reinterpret_cast<sockaddr_un*>(from)->sun_path[0] == '\0')
    from[kAddrBytes - 1] = static_cast<uint8_t>(fromlen - offsetof(sockaddr_un, sun_path));
  return Ret(info, n);
}

// shutdown(fd, how: SHUT_RD | SHUT_WR | SHUT_RDWR) -> 0 or -errno.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int32_t fd, how;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &how)) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Ret(info, shutdown(SockOf(fd), how));
#else
  return Ret(info, shutdown(fd, how));
#endif
}

// setsockopt with a pointer value: 0 or -errno.
int SetOpt(int32_t fd, int level, int name, const void* value, socklen_t len) {
#if defined(_WIN32)
  return setsockopt(SockOf(fd), level, name, static_cast<const char*>(value), len) == 0 ? 0 : LastError();
#else
  return setsockopt(fd, level, name, value, len) == 0 ? 0 : -errno;
#endif
}

// getsockopt with a pointer value: 0 or -errno; *len is updated to the size the kernel wrote.
int GetOpt(int32_t fd, int level, int name, void* value, socklen_t* len) {
#if defined(_WIN32)
  return getsockopt(SockOf(fd), level, name, static_cast<char*>(value), len) == 0 ? 0 : LastError();
#else
  return getsockopt(fd, level, name, value, len) == 0 ? 0 : -errno;
#endif
}

// Whether an integer option is passed to the kernel as one byte (u_char): IPv4's multicast TTL
// and loopback on Solaris and illumos, OpenBSD and AIX, which refuse an int for them. Linux,
// macOS, FreeBSD and Windows take an int (and Linux a byte as well).
bool ByteOption(int level, int name) {
#if defined(__sun) || defined(__OpenBSD__) || defined(_AIX)
  return level == IPPROTO_IP && (name == IP_MULTICAST_TTL || name == IP_MULTICAST_LOOP);
#else
  (void)level;
  (void)name;
  return false;
#endif
}

// setsockopt(fd, level, name, value: int) -> 0 or -errno. Integer options only; the ones asyncoro
// uses are exported in `sockets` (SO_REUSEADDR, TCP_NODELAY, IP_MULTICAST_TTL, ...). Where the
// system takes an option as one byte (ByteOption), a value outside 0..255 is -EINVAL.
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int32_t fd, level, name, value;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name) ||
      !ArgInt(info, 3, &value))
    return Napi::Number::New(info.Env(), -EINVAL);
  if (ByteOption(level, name)) {
    if (value < 0 || value > 255) return Napi::Number::New(info.Env(), -EINVAL);
    const unsigned char b = static_cast<unsigned char>(value);
    return Napi::Number::New(info.Env(), SetOpt(fd, level, name, &b, sizeof(b)));
  }
  int v = value;
#if defined(_WIN32)
  return Ret(info, setsockopt(SockOf(fd), level, name, reinterpret_cast<const char*>(&v), sizeof(v)));
#else
  return Ret(info, setsockopt(fd, level, name, &v, sizeof(v)));
#endif
}

// getsockopt(fd, level, name) -> the integer value (>= 0 for every option exported), or -errno.
// SO_ERROR returns the pending error as a positive errno (0 for none), and clears it.
Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  int32_t fd, level, name;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name))
    return Napi::Number::New(info.Env(), -EINVAL);
  if (ByteOption(level, name)) {
    unsigned char b = 0;
    socklen_t blen = sizeof(b);
    const int rc = GetOpt(fd, level, name, &b, &blen);
    return Napi::Number::New(info.Env(), rc < 0 ? rc : b);
  }
  int v = 0;
  socklen_t len = sizeof(v);
#if defined(_WIN32)
  if (getsockopt(SockOf(fd), level, name, reinterpret_cast<char*>(&v), &len) != 0) return Ret(info, -1);
  // Some options are a one-byte BOOL on Windows; SO_ERROR is a Winsock code.
  if (len == 1) v &= 0xff;
  if (level == SOL_SOCKET && name == SO_ERROR && v != 0) v = ErrnoFromWin(v);
#else
  if (getsockopt(fd, level, name, &v, &len) < 0) return Ret(info, -1);
#endif
  return Napi::Number::New(info.Env(), v);
}

// ---- multicast ----
//
// Facts about the multicast options that shape the calls below:
// - IPv4 and IPv6 name the interface differently: IPv4 by one of its addresses (struct in_addr
//   in ip_mreq and IP_MULTICAST_IF), IPv6 by its index (ipv6_mreq, IPV6_MULTICAST_IF). Both
//   arrive here as encoded addresses made by sockaddr(): an IPv4 address, or an IPv6 one whose
//   scope id is the index (sockaddr() turns "::%eth0" into it with if_nametoindex), as Node's
//   dgram names them. 0.0.0.0 and index 0 leave the choice to the routing table.
// - Linux says EINVAL for a group that is not multicast, EADDRINUSE for a group joined twice,
//   EADDRNOTAVAIL for leaving one not joined, ENODEV for an interface address no interface has,
//   and ENOBUFS past net.ipv4.igmp_max_memberships groups on one socket.
// - Source-specific membership (RFC 3678): IPv4 has IP_ADD_SOURCE_MEMBERSHIP with ip_mreq_source,
//   whose fields are in a different order on Linux than on BSD and Windows (so they are set by
//   name); IPv6 has only the protocol-independent MCAST_JOIN_SOURCE_GROUP with group_source_req.
// - Linux delivers a datagram sent to a group to every socket bound to its port that has not
//   joined the group itself as long as any socket of the host has (IP_MULTICAST_ALL, on by
//   default), so leaving a group changes nothing while another socket stays in it. The
//   TypeScript layer turns it off on the sockets that join, for the per-socket membership BSD
//   and Windows have.
// - Winsock's IP_MULTICAST_LOOP acts on the receiving socket, not on the sender as on POSIX: on
//   Windows, a socket with loopback off does not receive its host's own datagrams.

// An optional encoded address argument: *out is null when the argument is missing, undefined or
// null; false when it is present but not an encoded address.
bool OptionalAddr(const Napi::CallbackInfo& info, size_t i, const sockaddr_storage** out) {
  *out = nullptr;
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return true;
  *out = AddrArg(info, i);
  return *out != nullptr;
}

// membership(fd, join: boolean, group, iface?, source?) -> 0 or -errno. Joins (or leaves) the
// multicast group `group` (an encoded IPv4 or IPv6 address; its port is ignored) on the interface
// `iface` names (see the facts above; missing: the one the routing table picks, or for IPv6 the
// group's own scope id), receiving only from `source` when it is given (source-specific
// membership). The three addresses must be of one family (-EINVAL otherwise).
Napi::Value Membership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  const sockaddr_storage* group = AddrArg(info, 2);
  const sockaddr_storage* iface = nullptr;
  const sockaddr_storage* source = nullptr;
  if (!ArgInt(info, 0, &fd) || info.Length() < 2 || !info[1].IsBoolean() || group == nullptr ||
      !OptionalAddr(info, 3, &iface) || !OptionalAddr(info, 4, &source))
    return Napi::Number::New(env, -EINVAL);
  const bool join = info[1].As<Napi::Boolean>().Value();
  const int family = group->ss_family;
  if ((iface != nullptr && iface->ss_family != family) || (source != nullptr && source->ss_family != family))
    return Napi::Number::New(env, -EINVAL);
  if (family == AF_INET) {
    const in_addr any = {};
    const in_addr& multi = reinterpret_cast<const sockaddr_in*>(group)->sin_addr;
    const in_addr& local = iface != nullptr ? reinterpret_cast<const sockaddr_in*>(iface)->sin_addr : any;
    if (source == nullptr) {
      ip_mreq m;
      std::memset(&m, 0, sizeof(m));
      m.imr_multiaddr = multi;
      m.imr_interface = local;
      return Napi::Number::New(env, SetOpt(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof(m)));
    }
#if defined(IP_ADD_SOURCE_MEMBERSHIP)
    ip_mreq_source m;
    std::memset(&m, 0, sizeof(m));
    m.imr_multiaddr = multi;
    m.imr_sourceaddr = reinterpret_cast<const sockaddr_in*>(source)->sin_addr;
    m.imr_interface = local;
    return Napi::Number::New(env, SetOpt(fd, IPPROTO_IP, join ? IP_ADD_SOURCE_MEMBERSHIP : IP_DROP_SOURCE_MEMBERSHIP, &m, sizeof(m)));
#else
    return Napi::Number::New(env, -EOPNOTSUPP);
#endif
  }
  if (family == AF_INET6) {
    const sockaddr_in6* g6 = reinterpret_cast<const sockaddr_in6*>(group);
    const uint32_t index = iface != nullptr ? reinterpret_cast<const sockaddr_in6*>(iface)->sin6_scope_id : g6->sin6_scope_id;
    if (source == nullptr) {
      ipv6_mreq m;
      std::memset(&m, 0, sizeof(m));
      m.ipv6mr_multiaddr = g6->sin6_addr;
      m.ipv6mr_interface = index;
      return Napi::Number::New(env, SetOpt(fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m, sizeof(m)));
    }
#if defined(MCAST_JOIN_SOURCE_GROUP)
    group_source_req r;
    std::memset(&r, 0, sizeof(r));
    r.gsr_interface = index;
    std::memcpy(&r.gsr_group, group, sizeof(sockaddr_in6));
    std::memcpy(&r.gsr_source, source, sizeof(sockaddr_in6));
    return Napi::Number::New(env, SetOpt(fd, IPPROTO_IPV6, join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP, &r, sizeof(r)));
#else
    return Napi::Number::New(env, -EOPNOTSUPP);
#endif
  }
  return Napi::Number::New(env, -EAFNOSUPPORT);
}

// setMulticastInterface(fd, iface) -> 0 or -errno: where this socket's multicast datagrams go
// out. An IPv4 address sets IP_MULTICAST_IF (0.0.0.0: the routing table's choice again); an IPv6
// one sets IPV6_MULTICAST_IF to its scope id (0: the default).
Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  const sockaddr_storage* iface = AddrArg(info, 1);
  if (!ArgInt(info, 0, &fd) || iface == nullptr) return Napi::Number::New(env, -EINVAL);
  if (iface->ss_family == AF_INET) {
    const in_addr a = reinterpret_cast<const sockaddr_in*>(iface)->sin_addr;
    return Napi::Number::New(env, SetOpt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof(a)));
  }
  if (iface->ss_family == AF_INET6) {
    // An unsigned int on POSIX, a DWORD on Windows: 32 bits either way.
    const uint32_t index = reinterpret_cast<const sockaddr_in6*>(iface)->sin6_scope_id;
    return Napi::Number::New(env, SetOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)));
  }
  return Napi::Number::New(env, -EAFNOSUPPORT);
}

// getMulticastInterface(fd, family: AF_INET | AF_INET6, out: Uint8Array(128)) -> 0 or -errno:
// writes the outgoing multicast interface into `out` as setMulticastInterface takes it (an IPv4
// address, or :: with the interface index as scope id).
Napi::Value GetMulticastInterface(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, family;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &family) || info.Length() < 3 || !info[2].IsTypedArray())
    return Napi::Number::New(env, -EINVAL);
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes)
    return Napi::Number::New(env, -EINVAL);
  uint8_t* out = ta.As<Napi::Uint8Array>().Data();
  if (family == AF_INET) {
    // Linux writes a struct ip_mreqn when given room for one; room for an in_addr gets the address.
    in_addr a;
    std::memset(&a, 0, sizeof(a));
    socklen_t len = sizeof(a);
    const int rc = GetOpt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, &len);
    if (rc < 0) return Napi::Number::New(env, rc);
    std::memset(out, 0, kAddrBytes);
    sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_addr = a;
    return Napi::Number::New(env, 0);
  }
  if (family == AF_INET6) {
    uint32_t index = 0;
    socklen_t len = sizeof(index);
    const int rc = GetOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, &len);
    if (rc < 0) return Napi::Number::New(env, rc);
    std::memset(out, 0, kAddrBytes);
    sockaddr_in6* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_scope_id = index;
    return Napi::Number::New(env, 0);
  }
  return Napi::Number::New(env, -EAFNOSUPPORT);
}

// getsockname(fd, out: Uint8Array(128)) / getpeername(fd, out) -> 0 or -errno.
Napi::Value Name(const Napi::CallbackInfo& info, bool peer) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd) || info.Length() < 2 || !info[1].IsTypedArray())
    return Napi::Number::New(info.Env(), -EINVAL);
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < kAddrBytes)
    return Napi::Number::New(info.Env(), -EINVAL);
  uint8_t* out = ta.As<Napi::Uint8Array>().Data();
  std::memset(out, 0, kAddrBytes);
  socklen_t len = static_cast<socklen_t>(kAddrBytes);
#if defined(_WIN32)
  const SOCKET s = SockOf(fd);
#else
  const int s = fd;
#endif
  int rc = peer ? getpeername(s, reinterpret_cast<sockaddr*>(out), &len)
                : getsockname(s, reinterpret_cast<sockaddr*>(out), &len);
  if (rc == 0 && reinterpret_cast<sockaddr*>(out)->sa_family == AF_UNIX &&
      static_cast<size_t>(len) > offsetof(sockaddr_un, sun_path) && reinterpret_cast<sockaddr_un*>(out)->sun_path[0] == '\0')
    out[kAddrBytes - 1] = static_cast<uint8_t>(len - offsetof(sockaddr_un, sun_path));
  return Ret(info, rc);
}
Napi::Value GetSockName(const Napi::CallbackInfo& info) { return Name(info, false); }
Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return Name(info, true); }

}  // namespace

void EncodeKernelAddr(uint8_t* out, const void* sa, size_t salen) {
  if (salen > kAddrBytes) salen = kAddrBytes;
  std::memcpy(out, sa, salen);
  std::memset(out + salen, 0, kAddrBytes - salen);
  const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(out);
  if (un->sun_family == AF_UNIX && salen > offsetof(sockaddr_un, sun_path) && un->sun_path[0] == '\0')
    out[kAddrBytes - 1] = static_cast<uint8_t>(salen - offsetof(sockaddr_un, sun_path));
}

size_t EncodedAddrLen(const uint8_t* bytes, size_t n) {
  if (n < kAddrBytes) return 0;
  return AddrLen(reinterpret_cast<const sockaddr_storage*>(bytes));
}

void InitSockets(Napi::Env env, Napi::Object exports) {
#if defined(_WIN32)
  // Winsock counts its users: one start per environment (worker_threads included), one cleanup
  // when the environment goes.
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) == 0) {
    napi_add_env_cleanup_hook(env, [](void*) { WSACleanup(); }, nullptr);
  }
#endif
  exports.Set("socketpair", Napi::Function::New<SocketPair>(env, "socketpair"));
  exports.Set("pipe", Napi::Function::New<Pipe>(env, "pipe"));
  exports.Set("setNonBlocking", Napi::Function::New<SetNonBlocking>(env, "setNonBlocking"));
  exports.Set("read", Napi::Function::New<Read>(env, "read"));
  exports.Set("write", Napi::Function::New<Write>(env, "write"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("dup", Napi::Function::New<Dup>(env, "dup"));
  exports.Set("sockaddr", Napi::Function::New<SockAddr>(env, "sockaddr"));
  exports.Set("decodeAddress", Napi::Function::New<DecodeAddress>(env, "decodeAddress"));
  exports.Set("socket", Napi::Function::New<Socket>(env, "socket"));
  exports.Set("bind", Napi::Function::New<Bind>(env, "bind"));
  exports.Set("listen", Napi::Function::New<Listen>(env, "listen"));
  exports.Set("accept", Napi::Function::New<Accept>(env, "accept"));
  exports.Set("connect", Napi::Function::New<Connect>(env, "connect"));
  exports.Set("sendto", Napi::Function::New<SendTo>(env, "sendto"));
  exports.Set("recvfrom", Napi::Function::New<RecvFrom>(env, "recvfrom"));
  exports.Set("shutdown", Napi::Function::New<Shutdown>(env, "shutdown"));
  exports.Set("setsockopt", Napi::Function::New<SetSockOpt>(env, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New<GetSockOpt>(env, "getsockopt"));
  exports.Set("getsockname", Napi::Function::New<GetSockName>(env, "getsockname"));
  exports.Set("getpeername", Napi::Function::New<GetPeerName>(env, "getpeername"));
  exports.Set("membership", Napi::Function::New<Membership>(env, "membership"));
  exports.Set("setMulticastInterface", Napi::Function::New<SetMulticastInterface>(env, "setMulticastInterface"));
  exports.Set("getMulticastInterface", Napi::Function::New<GetMulticastInterface>(env, "getMulticastInterface"));

  Napi::Object k = Napi::Object::New(env);
  auto set = [&](const char* name, int value) { k.Set(name, Napi::Number::New(env, value)); };
  set("ADDR_BYTES", static_cast<int>(kAddrBytes));
  set("AF_INET", AF_INET);
  set("AF_INET6", AF_INET6);
  set("AF_UNIX", AF_UNIX);
  set("SOCK_STREAM", SOCK_STREAM);
  set("SOCK_DGRAM", SOCK_DGRAM);
  set("SHUT_RD", SHUT_RD);
  set("SHUT_WR", SHUT_WR);
  set("SHUT_RDWR", SHUT_RDWR);
  set("SOL_SOCKET", SOL_SOCKET);
  set("SO_REUSEADDR", SO_REUSEADDR);
#if defined(SO_REUSEPORT)
  set("SO_REUSEPORT", SO_REUSEPORT);
#endif
  set("SO_KEEPALIVE", SO_KEEPALIVE);
  set("SO_RCVBUF", SO_RCVBUF);
  set("SO_SNDBUF", SO_SNDBUF);
  set("SO_ERROR", SO_ERROR);
  set("SO_BROADCAST", SO_BROADCAST);
  set("SO_TYPE", SO_TYPE);
  set("SO_ACCEPTCONN", SO_ACCEPTCONN);
  set("IPPROTO_TCP", IPPROTO_TCP);
  set("TCP_NODELAY", TCP_NODELAY);
#if defined(TCP_KEEPIDLE)
  set("TCP_KEEPIDLE", TCP_KEEPIDLE);
  set("TCP_KEEPINTVL", TCP_KEEPINTVL);
  set("TCP_KEEPCNT", TCP_KEEPCNT);
#endif
  set("IPPROTO_IP", IPPROTO_IP);
  set("IP_MULTICAST_TTL", IP_MULTICAST_TTL);
  set("IP_MULTICAST_LOOP", IP_MULTICAST_LOOP);
  set("IPPROTO_IPV6", IPPROTO_IPV6);
  set("IPV6_V6ONLY", IPV6_V6ONLY);
  set("IPV6_MULTICAST_HOPS", IPV6_MULTICAST_HOPS);
  set("IPV6_MULTICAST_LOOP", IPV6_MULTICAST_LOOP);
#if defined(__linux__)
  // Linux only: whether a socket receives the groups other sockets of the host joined (on by
  // default). The numbers are the kernel's (2.6.31 and 4.20), for C libraries whose headers
  // predate them; an older kernel refuses them with ENOPROTOOPT.
#if !defined(IP_MULTICAST_ALL)
#define IP_MULTICAST_ALL 49
#endif
#if !defined(IPV6_MULTICAST_ALL)
#define IPV6_MULTICAST_ALL 29
#endif
  set("IP_MULTICAST_ALL", IP_MULTICAST_ALL);
  set("IPV6_MULTICAST_ALL", IPV6_MULTICAST_ALL);
#endif
  exports.Set("sockets", k);
}

}  // namespace asyncoro

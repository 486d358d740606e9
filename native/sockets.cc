// Raw non-blocking fd calls the tests and the scheduler need now: pipes and socket pairs, reads and
// writes into a caller's buffer, close. Every call returns a count or 0, or -errno; none throws,
// and EAGAIN is an ordinary return. The full socket layer (socket, bind, connect, accept4, ...)
// comes with the sockets issue, in this file.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"

namespace asyncoro {
namespace {

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

Napi::Value Ret(const Napi::CallbackInfo& info, ssize_t rc) {
  return Napi::Number::New(info.Env(), static_cast<double>(rc < 0 ? -errno : rc));
}

#if !defined(__linux__)
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
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return Ret(info, -1);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return Ret(info, fcntl(fd, F_SETFL, fl));
}

// read(fd, buf, off, len) -> bytes read (0 at EOF) or -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len))
    return Napi::Number::New(info.Env(), -EINVAL);
  ssize_t n;
  do n = read(fd, data, len); while (n < 0 && errno == EINTR);
  return Ret(info, n);
}

// write(fd, buf, off, len) -> bytes written or -errno. Writes to a socket use send() with
// MSG_NOSIGNAL so a closed peer is EPIPE, not SIGPIPE.
Napi::Value Write(const Napi::CallbackInfo& info) {
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ByteRange(info, 1, &data, &len))
    return Napi::Number::New(info.Env(), -EINVAL);
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
}

// close(fd) -> 0 or -errno. Callers remove the fd from its poller first.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
  // After EINTR the fd is closed on Linux and its number may be reused: never retry.
  return Ret(info, close(fd));
}

// dup(fd) -> a new close-on-exec fd for the same open file, or -errno.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(info.Env(), -EINVAL);
  return Ret(info, fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("socketpair", Napi::Function::New<SocketPair>(env, "socketpair"));
  exports.Set("pipe", Napi::Function::New<Pipe>(env, "pipe"));
  exports.Set("setNonBlocking", Napi::Function::New<SetNonBlocking>(env, "setNonBlocking"));
  exports.Set("read", Napi::Function::New<Read>(env, "read"));
  exports.Set("write", Napi::Function::New<Write>(env, "write"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("dup", Napi::Function::New<Dup>(env, "dup"));
}

}  // namespace asyncoro

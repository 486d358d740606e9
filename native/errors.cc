// The one errno table. The addon returns -errno everywhere; the TypeScript layer turns a code into
// a typed error with its symbolic name and message, using the numbers exported here, so nothing
// above this file depends on one platform's errno values.
//
// On Windows the numbers are those of the C runtime's errno.h (EAGAIN 11, ECONNREFUSED 107, ...)
// and Winsock's and Win32's own error codes are mapped into them here (ErrnoFromWin), the only
// place that knows both.
#include <errno.h>

#include <cstring>
#include <string>

#include "addon.h"
#include "platform.h"

namespace asyncoro {

#if defined(_WIN32)
// Winsock and Win32 errors and the errno each stands for. WSAEWOULDBLOCK is EAGAIN (not the
// C runtime's distinct EWOULDBLOCK), so one code means "not now" everywhere. The WSA_* codes of
// overlapped I/O are the Win32 ones (WSA_INVALID_HANDLE is ERROR_INVALID_HANDLE, ...). Every fd is
// a socket handle here, so a handle that is no socket (WSAENOTSOCK) is a bad fd: EBADF.
#define ASYNCORO_WIN_ERRORS(X)                                                                  \
  X(WSAEWOULDBLOCK, EAGAIN) X(WSAEINPROGRESS, EINPROGRESS) X(WSAEALREADY, EALREADY)             \
  X(WSAENOTSOCK, EBADF) X(WSAEDESTADDRREQ, EDESTADDRREQ) X(WSAEMSGSIZE, EMSGSIZE)            \
  X(WSAEPROTOTYPE, EPROTOTYPE) X(WSAENOPROTOOPT, ENOPROTOOPT)                                   \
  X(WSAEPROTONOSUPPORT, EPROTONOSUPPORT) X(WSAESOCKTNOSUPPORT, EPROTONOSUPPORT)                 \
  X(WSAEOPNOTSUPP, EOPNOTSUPP) X(WSAEAFNOSUPPORT, EAFNOSUPPORT) X(WSAEPFNOSUPPORT, EAFNOSUPPORT) \
  X(WSAEADDRINUSE, EADDRINUSE) X(WSAEADDRNOTAVAIL, EADDRNOTAVAIL) X(WSAENETDOWN, ENETDOWN)      \
  X(WSAENETUNREACH, ENETUNREACH) X(WSAENETRESET, ECONNRESET) X(WSAECONNABORTED, ECONNABORTED)   \
  X(WSAECONNRESET, ECONNRESET) X(WSAENOBUFS, ENOBUFS) X(WSAEISCONN, EISCONN)                    \
  X(WSAENOTCONN, ENOTCONN) X(WSAESHUTDOWN, EPIPE) X(WSAETIMEDOUT, ETIMEDOUT)                    \
  X(WSAECONNREFUSED, ECONNREFUSED) X(WSAEHOSTDOWN, EHOSTUNREACH) X(WSAEHOSTUNREACH, EHOSTUNREACH) \
  X(WSAEINTR, EINTR) X(WSAEBADF, EBADF) X(WSAEACCES, EACCES) X(WSAEFAULT, EFAULT)               \
  X(WSAEINVAL, EINVAL) X(WSAEMFILE, EMFILE) X(WSAENAMETOOLONG, ENAMETOOLONG)                    \
  X(WSAENOTEMPTY, ENOTEMPTY) X(WSAELOOP, ELOOP) X(WSA_OPERATION_ABORTED, ECANCELED)             \
  X(WSAECANCELLED, ECANCELED) X(WSA_NOT_ENOUGH_MEMORY, ENOMEM) X(WSA_INVALID_HANDLE, EBADF)     \
  X(WSA_INVALID_PARAMETER, EINVAL) X(WSANOTINITIALISED, ENOSYS)                                 \
  X(ERROR_OUTOFMEMORY, ENOMEM)                                                                  \
  X(ERROR_ACCESS_DENIED, EACCES) X(ERROR_NOT_SUPPORTED, EOPNOTSUPP) X(ERROR_NOT_FOUND, ENOENT)  \
  X(ERROR_NETNAME_DELETED, ECONNRESET)                                                          \
  X(ERROR_CONNECTION_REFUSED, ECONNREFUSED) X(ERROR_CONNECTION_ABORTED, ECONNABORTED)           \
  X(ERROR_NETWORK_UNREACHABLE, ENETUNREACH) X(ERROR_HOST_UNREACHABLE, EHOSTUNREACH)             \
  X(ERROR_PORT_UNREACHABLE, ECONNREFUSED) X(ERROR_SEM_TIMEOUT, ETIMEDOUT)                       \
  X(ERROR_BROKEN_PIPE, EPIPE) X(ERROR_NO_DATA, EPIPE)

int ErrnoFromWin(int code) {
  switch (code) {
#define X(w, e) \
  case w:       \
    return e;
    ASYNCORO_WIN_ERRORS(X)
#undef X
  }
  return EIO;
}

namespace {
// The Winsock error an errno stands for (the first in the table), for its message; 0 if none.
int WinFromErrno(int e) {
#define X(w, err) \
  if (e == err && w >= WSABASEERR) return w;
  ASYNCORO_WIN_ERRORS(X)
#undef X
  return 0;
}
}  // namespace
#endif

namespace {

#define ASYNCORO_ERRNOS(X)                                                                      \
  X(EPERM) X(ENOENT) X(EINTR) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) \
  X(EEXIST) X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOSPC) X(ESPIPE)    \
  X(EPIPE) X(ERANGE) X(ENOSYS) X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE)            \
  X(ENOPROTOOPT) X(EPROTONOSUPPORT) X(EOPNOTSUPP) X(EAFNOSUPPORT) X(EADDRINUSE)                 \
  X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(ECONNABORTED) X(ECONNRESET) X(ENOBUFS)           \
  X(EISCONN) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTUNREACH) X(EALREADY)               \
  X(EINPROGRESS) X(ECANCELED) X(ELOOP) X(ENAMETOOLONG) X(ENOTEMPTY) X(EROFS) X(E2BIG) X(ECHILD)

// errnoName(code): "EAGAIN" for 11 or -11 on Linux; "" for a code this table does not know.
Napi::Value ErrnoName(const Napi::CallbackInfo& info) {
  int32_t code;
  if (!ArgInt(info, 0, &code)) return Napi::String::New(info.Env(), "");
  if (code < 0) code = -code;
#define X(e) \
  if (code == e) return Napi::String::New(info.Env(), #e);
  ASYNCORO_ERRNOS(X)
#undef X
  return Napi::String::New(info.Env(), "");
}

// strerror(code): the C library's message for a code (either sign). On Windows the C runtime
// knows no message for the socket codes; Winsock's own message for the code it maps from does.
Napi::Value StrError(const Napi::CallbackInfo& info) {
  int32_t code;
  if (!ArgInt(info, 0, &code)) return Napi::String::New(info.Env(), "");
  if (code < 0) code = -code;
#if defined(_WIN32)
  if (const int wsa = WinFromErrno(code)) {
    char text[256];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                             static_cast<DWORD>(wsa), 0, text, sizeof(text), nullptr);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == '.')) n--;
    if (n > 0) return Napi::String::New(info.Env(), std::string(text, n));
  }
#endif
  return Napi::String::New(info.Env(), strerror(code));
}

}  // namespace

void InitErrors(Napi::Env env, Napi::Object exports) {
  Napi::Object codes = Napi::Object::New(env);
#define X(e) codes.Set(#e, Napi::Number::New(env, e));
  ASYNCORO_ERRNOS(X)
#undef X
  exports.Set("errno", codes);
  exports.Set("errnoName", Napi::Function::New<ErrnoName>(env, "errnoName"));
  exports.Set("strerror", Napi::Function::New<StrError>(env, "strerror"));
}

}  // namespace asyncoro

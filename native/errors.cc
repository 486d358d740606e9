// The one errno table. The addon returns -errno everywhere; the TypeScript layer turns a code into
// a typed error with its symbolic name and message, using the numbers exported here, so nothing
// above this file depends on one platform's errno values.
#include <errno.h>

#include <cstring>

#include "addon.h"

namespace asyncoro {
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

// strerror(code): the C library's message for a code (either sign).
Napi::Value StrError(const Napi::CallbackInfo& info) {
  int32_t code;
  if (!ArgInt(info, 0, &code)) return Napi::String::New(info.Env(), "");
  return Napi::String::New(info.Env(), strerror(code < 0 ? -code : code));
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

// Child-process exit through the poller: a pidfd is readable once its process has exited
// (Linux 5.3+), so a coroutine can wait for a child with the same fd readiness as for a pipe,
// in every scheduler mode. The status is read with WNOWAIT, which leaves the zombie for whoever
// spawned the child (Node's child_process reaps its own children): reading it here must not
// steal it from them.
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#if !defined(_WIN32)
#include <sys/wait.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same number on every Linux architecture
#endif
#endif

#include "addon.h"

namespace asyncoro {
namespace {

// pidfdOpen(pid) -> a close-on-exec pidfd, or -errno (-ENOSYS before Linux 5.3 and elsewhere).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int32_t pid;
  if (!ArgInt(info, 0, &pid) || pid <= 0) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(__linux__)
  long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : static_cast<double>(fd));
#else
  return Napi::Number::New(info.Env(), -ENOSYS);
#endif
}

// exitStatus(pid) -> 0 while the child runs, 256 + code once it exited, 512 + signal number once
// a signal ended it, or -errno (-ECHILD: not our child, or already reaped). Never reaps.
Napi::Value ExitStatus(const Napi::CallbackInfo& info) {
  int32_t pid;
  if (!ArgInt(info, 0, &pid) || pid <= 0) return Napi::Number::New(info.Env(), -EINVAL);
#if defined(_WIN32)
  return Napi::Number::New(info.Env(), -ENOSYS);
#else
  siginfo_t si;
  si.si_pid = 0;
  int rc;
  do rc = waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return Napi::Number::New(info.Env(), -errno);
  if (si.si_pid == 0) return Napi::Number::New(info.Env(), 0);
  int v = si.si_code == CLD_EXITED ? 256 + (si.si_status & 0xff) : 512 + si.si_status;
  return Napi::Number::New(info.Env(), v);
#endif
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New<PidfdOpen>(env, "pidfdOpen"));
  exports.Set("exitStatus", Napi::Function::New<ExitStatus>(env, "exitStatus"));
}

}  // namespace asyncoro

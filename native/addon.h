// What the addon's files share: their init functions and the per-environment data. The addon
// keeps no global mutable state, so it loads in several worker_threads at once.
#ifndef ASYNCORO_ADDON_H_
#define ASYNCORO_ADDON_H_

#include <napi.h>

#include "addr.h"

namespace asyncoro {

// Per-environment data, owned by the environment (Napi::Env::SetInstanceData).
struct AddonData {
  Napi::FunctionReference poller_ctor;
  Napi::FunctionReference ring_ctor;
};

void InitPoller(Napi::Env env, Napi::Object exports, AddonData* data);
void InitRing(Napi::Env env, Napi::Object exports, AddonData* data);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitErrors(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);

// Reads an int32 argument; returns false (and leaves *out alone) when it is not a number.
inline bool ArgInt(const Napi::CallbackInfo& info, size_t i, int32_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

}  // namespace asyncoro

#endif  // ASYNCORO_ADDON_H_

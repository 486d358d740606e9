// Module init only: per-environment data, then each file registers its own exports.
#include "addon.h"

namespace asyncoro {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  InitPoller(env, exports, data);
  InitRing(env, exports, data);
  InitSockets(env, exports);
  InitErrors(env, exports);
  InitProcess(env, exports);
  return exports;
}

}  // namespace asyncoro

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return asyncoro::Init(env, exports);
}

NODE_API_MODULE(asyncoro, InitAddon)

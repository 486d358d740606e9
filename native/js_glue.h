// What the two JavaScript adapters (js_poller.cc, js_ring.cc) share: handing a batch to a
// JavaScript handler, and closing a libuv handle they own.
#ifndef ASYNCORO_JS_GLUE_H_
#define ASYNCORO_JS_GLUE_H_

#include <node_api.h>
#include <uv.h>

namespace asyncoro {

// Calls the handler in `fn_ref` with `count` and `this` the object in `self_ref`.
//
// This runs from libuv callbacks and thread-safe calls, so it uses the C API with every status
// checked, never node-addon-api's throwing wrappers: a C++ exception here has nowhere to go, and
// during a Worker's teardown (Node closes handles, and so runs queued calls, before the cleanup
// hooks) JavaScript can no longer run. A batch that cannot be delivered is dropped, and so is
// one for an object that is already garbage but not yet finalized (nobody can want it).
// `ctx` non-null: the call goes through napi_make_callback, so process.nextTick() and promise jobs
// run after the batch as after Node's own I/O callbacks; null: plain napi_call_function, for
// thread-safe calls, which already run in a callback scope. An exception from the handler goes
// to 'uncaughtException', like one thrown from any other I/O callback.
inline void DeliverBatch(napi_env env, napi_ref self_ref, napi_ref fn_ref, napi_async_context ctx,
                         int count) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value self = nullptr, fn = nullptr, argv[1], result;
  if (napi_get_reference_value(env, self_ref, &self) == napi_ok && self != nullptr &&
      napi_get_reference_value(env, fn_ref, &fn) == napi_ok && fn != nullptr &&
      napi_create_int32(env, count, &argv[0]) == napi_ok) {
    const napi_status st = ctx != nullptr
                               ? napi_make_callback(env, ctx, self, fn, 1, argv, &result)
                               : napi_call_function(env, self, fn, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

// Stops and closes a heap-allocated libuv handle that `data`-points at its owner; the memory is
// freed in the close callback. Leaves `handle` null. For uv_poll_t and uv_prepare_t.
template <typename Handle, int (*Stop)(Handle*)>
inline void CloseHandle(Handle*& handle) {
  if (handle == nullptr) return;
  handle->data = nullptr;
  Stop(handle);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
  handle = nullptr;
}

}  // namespace asyncoro

#endif  // ASYNCORO_JS_GLUE_H_

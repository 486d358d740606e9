// The adapter between JavaScript and the completion contract (completion.h): the Ring class.
//
// A Ring owns the binary's completion backend (io_uring on Linux, IOCP on Windows) and delivers
// completions into an Int32Array that JavaScript owns and passes in: [token, result, flags]
// triples. It runs in one of three modes:
// - integrated: Node's own libuv loop watches the ring's fd with a uv_poll_t. When it is
//   readable, collect() fills the array and JavaScript is called once for the batch, through
//   MakeCallback so promise jobs and nextTicks run after it. Operations queued by JavaScript are
//   handed to the kernel in one syscall by a uv_prepare_t just before the loop blocks (or at once
//   by submit()).
// - thread (IOCP): a libuv thread blocks in the backend's wait() (GetQueuedCompletionStatusEx),
//   which only dequeues; it then hands over through a thread-safe function and sleeps until
//   JavaScript has consumed the batch. collect(), which turns what was dequeued into triples and
//   releases the operations' records, runs on the JavaScript thread, like every submission, so the
//   backend's tables have one user. A completion port has no fd for Node's loop to watch, so
//   IOCP has no integrated mode.
// - exclusive: JavaScript calls wait(timeoutMs) itself, which submits what is queued and waits.
// io_uring has no thread mode: the ring has one submitter, the JavaScript thread, and its socket
// completions are posted as task work of that thread, so a second thread blocked in
// io_uring_enter would only add a hand-off. Ring.modes says which modes this binary's backend has.
//
// Buffers are registered once per slot; the Ring holds a reference to each registered
// Uint8Array so the memory the kernel writes into stays alive while registered.
#include <errno.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "js_glue.h"
#include "completion.h"

namespace asyncoro {
namespace {

enum class RingMode { kIntegrated, kThread, kExclusive };

const char* RingModeName(RingMode m) {
  return m == RingMode::kIntegrated ? "integrated" : m == RingMode::kThread ? "thread" : "exclusive";
}

// The binary's completion backend: io_uring where compiled in, else IOCP, else none.
CompletionBackend* NewCompletionBackend() {
  CompletionBackend* b = NewUringBackend();
  return b != nullptr ? b : NewIocpBackend();
}

// The modes of this binary's backend, the default first.
#if defined(_WIN32)
const RingMode kModes[] = {RingMode::kThread, RingMode::kExclusive};
#else
const RingMode kModes[] = {RingMode::kIntegrated, RingMode::kExclusive};
#endif

class JsRing;

// State shared between the JavaScript thread and the waiting thread (thread mode), as in
// js_poller.cc: it outlives the Ring until the thread-safe function is finalized, and the last
// of its two owners frees it.
struct RingShared {
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_thread_t thread;
  JsRing* owner = nullptr;  // cleared on close, under mu
  bool consumed = true;     // JavaScript has collected what the last wait dequeued
  bool stopping = false;
  int status = 0;           // the last wait's result (0 or -errno)
  int refs = 2;
};

void ReleaseRingShared(RingShared* s) {
  if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  uv_cond_destroy(&s->cv);
  uv_mutex_destroy(&s->mu);
  delete s;
}

void CallJsRing(Napi::Env env, Napi::Function cb, RingShared* shared, void* data);
using RingTsfn = Napi::TypedThreadSafeFunction<RingShared, void, CallJsRing>;

// How long close() waits for the kernel to finish cancelled operations, so it never releases a
// buffer the kernel may still write into. Operations on sockets and pipes cancel at once.
constexpr int kCloseWaitMs = 1000;

uint64_t NowMs() { return uv_hrtime() / 1000000; }

class JsRing : public Napi::ObjectWrap<JsRing> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit JsRing(const Napi::CallbackInfo& info);
  ~JsRing() override { Close(false); }

  // Thread mode, on the JavaScript thread: collects what the waiting thread dequeued and
  // delivers it (or the wait's error).
  void OnThreadBatch(Napi::Env env, int status);

 private:
  Napi::Value Register(const Napi::CallbackInfo& info);
  Napi::Value Unregister(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info) { return Transfer(info, kOpRecv); }
  Napi::Value Send(const Napi::CallbackInfo& info) { return Transfer(info, kOpSend); }
  Napi::Value Read(const Napi::CallbackInfo& info) { return Transfer(info, kOpRead); }
  Napi::Value Write(const Napi::CallbackInfo& info) { return Transfer(info, kOpWrite); }
  Napi::Value Transfer(const Napi::CallbackInfo& info, RingOp op);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value RecvFrom(const Napi::CallbackInfo& info);
  Napi::Value SendTo(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Wakeup(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value CloseJs(const Napi::CallbackInfo& info);
  Napi::Value Num(const Napi::CallbackInfo& info, double v) { return Napi::Number::New(info.Env(), v); }
  Napi::Value GetMode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), RingModeName(mode_));
  }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Num(info, closed_ ? -1 : backend_->fd()); }
  Napi::Value GetWakeupFd(const Napi::CallbackInfo& info) {
    return Num(info, closed_ ? -1 : backend_->wake_fd());
  }
  Napi::Value GetCapacity(const Napi::CallbackInfo& info) { return Num(info, capacity_); }
  Napi::Value GetSlots(const Napi::CallbackInfo& info) { return Num(info, limits_.slots); }
  Napi::Value GetMaxOps(const Napi::CallbackInfo& info) { return Num(info, limits_.max_ops); }
  Napi::Value GetInFlight(const Napi::CallbackInfo& info) {
    return Num(info, closed_ ? 0 : backend_->in_flight());
  }
  Napi::Value GetQueued(const Napi::CallbackInfo& info) {
    return Num(info, closed_ ? 0 : backend_->queued());
  }
  Napi::Value GetFeatures(const Napi::CallbackInfo& info) { return Num(info, features_); }
  Napi::Value GetOps(const Napi::CallbackInfo& info) { return Num(info, ops_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), closed_);
  }

  void StartIntegrated(Napi::Env env);
  void StartThread(Napi::Env env, Napi::Function cb);
  static void ThreadMain(void* arg);
  void StopThread();
  void Deliver(Napi::Env env, int count, bool from_tsfn = false);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnPrepare(uv_prepare_t* handle);
  static void CleanupHook(void* arg) { static_cast<JsRing*>(arg)->Close(false); }
  // Cancels what is in flight, waits (bounded) for the kernel to finish with the buffers, and
  // when `deliver` (a call from JavaScript) hands those last completions to onCompletions.
  void Close(bool deliver);

  std::unique_ptr<CompletionBackend> backend_;
  RingMode mode_ = RingMode::kExclusive;
  RingLimits limits_;
  uint32_t features_ = 0;
  uint32_t ops_ = 0;
  int32_t* buf_ = nullptr;
  int capacity_ = 0;
  Napi::Reference<Napi::Int32Array> buf_ref_;
  std::vector<Napi::Reference<Napi::Uint8Array>> slot_refs_;
  Napi::FunctionReference on_completions_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  uv_poll_t* poll_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;
  RingShared* shared_ = nullptr;
  RingTsfn tsfn_;
  napi_env env_ = nullptr;
  bool closed_ = false;
  bool hook_added_ = false;
};

Napi::Function JsRing::Define(Napi::Env env) {
  Napi::Array modes = Napi::Array::New(env, 2);
  for (uint32_t i = 0; i < 2; i++) modes.Set(i, RingModeName(kModes[i]));
  return DefineClass(
      env, "Ring",
      {
          InstanceMethod<&JsRing::Register>("register"),
          InstanceMethod<&JsRing::Unregister>("unregister"),
          InstanceMethod<&JsRing::Recv>("recv"),
          InstanceMethod<&JsRing::Send>("send"),
          InstanceMethod<&JsRing::Read>("read"),
          InstanceMethod<&JsRing::Write>("write"),
          InstanceMethod<&JsRing::Accept>("accept"),
          InstanceMethod<&JsRing::Connect>("connect"),
          InstanceMethod<&JsRing::RecvFrom>("recvfrom"),
          InstanceMethod<&JsRing::SendTo>("sendto"),
          InstanceMethod<&JsRing::Poll>("poll"),
          InstanceMethod<&JsRing::Cancel>("cancel"),
          InstanceMethod<&JsRing::Submit>("submit"),
          InstanceMethod<&JsRing::Wait>("wait"),
          InstanceMethod<&JsRing::Wakeup>("wakeup"),
          InstanceMethod<&JsRing::Ref>("ref"),
          InstanceMethod<&JsRing::Unref>("unref"),
          InstanceMethod<&JsRing::CloseJs>("close"),
          InstanceAccessor<&JsRing::GetMode>("mode"),
          InstanceAccessor<&JsRing::GetFd>("fd"),
          InstanceAccessor<&JsRing::GetWakeupFd>("wakeupFd"),
          InstanceAccessor<&JsRing::GetCapacity>("capacity"),
          InstanceAccessor<&JsRing::GetSlots>("slots"),
          InstanceAccessor<&JsRing::GetMaxOps>("maxOps"),
          InstanceAccessor<&JsRing::GetInFlight>("inFlight"),
          InstanceAccessor<&JsRing::GetQueued>("queued"),
          InstanceAccessor<&JsRing::GetFeatures>("features"),
          InstanceAccessor<&JsRing::GetOps>("ops"),
          InstanceAccessor<&JsRing::GetClosed>("closed"),
          StaticValue("modes", modes, napi_enumerable),
      });
}

// Reads an optional positive integer option; false when present but not one in [1, max].
bool OptionU32(Napi::Object o, const char* key, uint32_t max, uint32_t min, uint32_t* out) {
  if (!o.Has(key)) return true;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<uint32_t>(d))) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

// new Ring(mode, completions: Int32Array, onCompletions?, { entries, maxOps, slots, timeoutOp }?)
// Wrong arguments are bugs in the TypeScript layer above, so they throw; so does a ring the
// kernel refuses (the error carries errno).
JsRing::JsRing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsRing>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  const char* usage = "Ring(mode, completions: Int32Array, onCompletions?, options?)";
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsTypedArray())
    throw Napi::TypeError::New(env, usage);
  const std::string mode = info[0].As<Napi::String>().Utf8Value();
  bool known = false;
  for (RingMode m : kModes) {
    if (mode == RingModeName(m)) {
      mode_ = m;
      known = true;
    }
  }
  if (!known) {
    throw Napi::TypeError::New(env, std::string("this binary's rings run in ") +
                                        RingModeName(kModes[0]) + " or " +
                                        RingModeName(kModes[1]) + " mode, not " + mode);
  }
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_int32_array || ta.ElementLength() < 3)
    throw Napi::TypeError::New(env, "completions must be an Int32Array of at least 3 elements");
  Napi::Int32Array arr = ta.As<Napi::Int32Array>();
  buf_ = arr.Data();
  capacity_ = static_cast<int>(arr.ElementLength() / 3);
  buf_ref_ = Napi::Persistent(arr);
  const bool has_fn = info.Length() > 2 && info[2].IsFunction();
  if (info.Length() > 2 && !has_fn && !info[2].IsUndefined() && !info[2].IsNull())
    throw Napi::TypeError::New(env, usage);
  if (mode_ != RingMode::kExclusive && !has_fn)
    throw Napi::TypeError::New(env, std::string(RingModeName(mode_)) +
                                        " mode needs an onCompletions function");
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (!OptionU32(o, "entries", 32768, 1, &limits_.entries) ||
        !OptionU32(o, "maxOps", 1u << 20, 1, &limits_.max_ops) ||
        !OptionU32(o, "slots", 1u << 16, 0, &limits_.slots) ||
        !OptionU32(o, "cqEntries", 65536, 1, &limits_.cq_entries))
      throw Napi::TypeError::New(
          env, "entries 1..32768, maxOps 1..1048576, slots 0..65536, cqEntries 1..65536");
    if (o.Has("timeoutOp")) limits_.timeout_op = o.Get("timeoutOp").ToBoolean().Value();
  }

  backend_.reset(NewCompletionBackend());
  if (!backend_) throw Napi::Error::New(env, "no completion backend is built into this binary");
  int rc = backend_->open(limits_);
  if (rc != 0) {
    const std::string name = backend_->name();
    backend_.reset();
    closed_ = true;
    Napi::Error err = Napi::Error::New(env, name + ": " + strerror(-rc));
    err.Set("errno", Napi::Number::New(env, rc));
    throw err;
  }
  features_ = backend_->features();
  ops_ = backend_->ops();
  slot_refs_.resize(limits_.slots);
  if (has_fn) {
    on_completions_ = Napi::Persistent(info[2].As<Napi::Function>());
    async_context_.reset(new Napi::AsyncContext(env, "asyncoro.Ring"));
  }
  if (mode_ != RingMode::kExclusive) {
    try {
      if (mode_ == RingMode::kIntegrated) StartIntegrated(env);
      else StartThread(env, info[2].As<Napi::Function>());
    } catch (...) {
      Close(false);
      throw;
    }
  }
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  hook_added_ = true;
}

void JsRing::StartIntegrated(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    throw Napi::Error::New(env, "no libuv loop in this environment");
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, backend_->fd());
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(rc));
  }
  poll_->data = this;
  rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
  if (rc == 0) {
    prepare_ = new uv_prepare_t;
    uv_prepare_init(loop, prepare_);  // cannot fail: it only links the handle into the loop
    prepare_->data = this;
    uv_prepare_start(prepare_, OnPrepare);
    // Flushing queued submissions must not by itself keep the process alive; the poll handle
    // does that (ref/unref).
    uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
  }
  if (rc != 0) {
    throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(rc));
  }
}

void JsRing::StartThread(Napi::Env env, Napi::Function cb) {
  shared_ = new RingShared();
  uv_mutex_init(&shared_->mu);
  uv_cond_init(&shared_->cv);
  shared_->owner = this;
  RingShared* shared = shared_;
  tsfn_ = RingTsfn::New(env, cb, "asyncoro.Ring", 0, 1, shared,
                        [](Napi::Env, void*, RingShared* s) { ReleaseRingShared(s); },
                        static_cast<void*>(nullptr));
  int rc = uv_thread_create(&shared->thread, ThreadMain, this);
  if (rc != 0) {
    shared_->owner = nullptr;
    tsfn_.Release();
    ReleaseRingShared(shared_);
    shared_ = nullptr;
    throw Napi::Error::New(env, std::string("uv_thread_create: ") + uv_strerror(rc));
  }
}

// The waiting thread. It calls only wait(), which dequeues into the backend's own array and
// touches nothing that submissions or collect() change; JavaScript collects that array only
// while this thread sleeps on the condition variable.
void JsRing::ThreadMain(void* arg) {
  JsRing* self = static_cast<JsRing*>(arg);
  RingShared* s = self->shared_;
  CompletionBackend* backend = self->backend_.get();
  for (;;) {
    uv_mutex_lock(&s->mu);
    const bool stop_now = s->stopping;
    uv_mutex_unlock(&s->mu);
    if (stop_now) break;
    int rc = backend->wait(-1);
    if (rc == -EINTR) rc = 0;
    uv_mutex_lock(&s->mu);
    if (s->stopping) {
      uv_mutex_unlock(&s->mu);
      break;
    }
    s->status = rc;
    s->consumed = false;
    uv_mutex_unlock(&s->mu);
    if (self->tsfn_.NonBlockingCall() != napi_ok) break;
    uv_mutex_lock(&s->mu);
    while (!s->consumed && !s->stopping) uv_cond_wait(&s->cv, &s->mu);
    const bool stop = s->stopping;
    uv_mutex_unlock(&s->mu);
    if (stop || rc < 0) break;  // a failing wait is reported once; looping on it would spin
  }
}

void CallJsRing(Napi::Env env, Napi::Function, RingShared* s, void*) {
  // A null env: the function is being torn down after its finalizer; nobody to deliver to.
  if (env == nullptr) return;
  uv_mutex_lock(&s->mu);
  JsRing* owner = s->owner;
  const int status = s->status;
  uv_mutex_unlock(&s->mu);
  if (owner != nullptr) owner->OnThreadBatch(env, status);
  uv_mutex_lock(&s->mu);
  s->consumed = true;
  uv_cond_signal(&s->cv);
  uv_mutex_unlock(&s->mu);
}

void JsRing::OnThreadBatch(Napi::Env env, int status) {
  if (closed_) return;
  if (status < 0) {
    Deliver(env, status, true);
    return;
  }
  // Everything the thread dequeued is handed over before it waits again, a batch at a time.
  for (;;) {
    const int n = backend_->collect(buf_, capacity_);
    if (n > 0) Deliver(env, n, true);
    if (closed_ || n < capacity_) break;
  }
}

void JsRing::StopThread() {
  if (shared_ == nullptr) return;
  uv_mutex_lock(&shared_->mu);
  shared_->stopping = true;
  shared_->owner = nullptr;
  uv_cond_signal(&shared_->cv);
  uv_mutex_unlock(&shared_->mu);
  // A thread blocked in wait() returns for the wake-up and sees stopping; what it dequeued
  // stays in the backend for collect() on this thread.
  backend_->wakeup();
  uv_thread_join(&shared_->thread);
  tsfn_.Release();
  ReleaseRingShared(shared_);
  shared_ = nullptr;
}

void JsRing::OnPoll(uv_poll_t* handle, int status, int) {
  JsRing* self = static_cast<JsRing*>(handle->data);
  if (self == nullptr || self->closed_) return;
  Napi::Env env(self->env_);
  if (status < 0) {
    self->Deliver(env, status);
    return;
  }
  // One batch per callback: if more completions wait, the fd stays readable and libuv calls
  // again in its next turn, after timers and immediates had their chance.
  const int n = self->backend_->collect(self->buf_, self->capacity_);
  if (n > 0) self->Deliver(env, n);
}

void JsRing::OnPrepare(uv_prepare_t* handle) {
  JsRing* self = static_cast<JsRing*>(handle->data);
  if (self == nullptr || self->closed_ || self->backend_->queued() == 0) return;
  const int rc = self->backend_->flush();
  // -EBUSY/-EAGAIN: the kernel is short of room (completions backed up); the entries stay
  // queued and the next turn tries again after the completions were collected.
  if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) {
    Napi::Env env(self->env_);
    self->Deliver(env, rc);
  }
}

void JsRing::Deliver(Napi::Env env, int count, bool from_tsfn) {
  if (closed_ || on_completions_.IsEmpty()) return;
  DeliverBatch(env, static_cast<napi_ref>(*this), static_cast<napi_ref>(on_completions_),
               from_tsfn ? nullptr : static_cast<napi_async_context>(*async_context_), count);
}

Napi::Value JsRing::Register(const Napi::CallbackInfo& info) {
  int32_t slot;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &slot) || slot < 0 || info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    return Num(info, -EINVAL);
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  // An empty (or detached) array has no memory to lend.
  if (bytes.ElementLength() == 0 || bytes.Data() == nullptr) return Num(info, -EINVAL);
  int rc = backend_->set_buffer(static_cast<uint32_t>(slot), bytes.Data(), bytes.ElementLength());
  if (rc == 0) slot_refs_[slot] = Napi::Persistent(bytes);
  return Num(info, rc);
}

Napi::Value JsRing::Unregister(const Napi::CallbackInfo& info) {
  int32_t slot;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &slot) || slot < 0) return Num(info, -EINVAL);
  int rc = backend_->set_buffer(static_cast<uint32_t>(slot), nullptr, 0);
  if (rc == 0) slot_refs_[slot].Reset();
  return Num(info, rc);
}

// recv/send/read/write(token, fd, slot, offset, length)
Napi::Value JsRing::Transfer(const Napi::CallbackInfo& info, RingOp op) {
  int32_t token, fd, slot, off, len;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd) || !ArgInt(info, 2, &slot) ||
      !ArgInt(info, 3, &off) || !ArgInt(info, 4, &len) || slot < 0 || off < 0 || len < 0)
    return Num(info, -EINVAL);
  return Num(info, backend_->transfer(op, token, fd, static_cast<uint32_t>(slot),
                                      static_cast<size_t>(off), static_cast<size_t>(len)));
}

Napi::Value JsRing::Accept(const Napi::CallbackInfo& info) {
  int32_t token, fd;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd)) return Num(info, -EINVAL);
  return Num(info, backend_->accept(token, fd));
}

// connect(token, fd, address): the address as sockaddr() encoded it for the socket calls.
Napi::Value JsRing::Connect(const Napi::CallbackInfo& info) {
  int32_t token, fd;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd) || info.Length() < 3 ||
      !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    return Num(info, -EINVAL);
  Napi::Uint8Array addr = info[2].As<Napi::Uint8Array>();
  const size_t len = EncodedAddrLen(addr.Data(), addr.ElementLength());
  if (len == 0) return Num(info, -EINVAL);
  return Num(info, backend_->connect(token, fd, addr.Data(), len));
}

// recvfrom(token, fd, slot, offset, length, addrOffset)
Napi::Value JsRing::RecvFrom(const Napi::CallbackInfo& info) {
  int32_t token, fd, slot, off, len, addr_off;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd) || !ArgInt(info, 2, &slot) ||
      !ArgInt(info, 3, &off) || !ArgInt(info, 4, &len) || !ArgInt(info, 5, &addr_off) ||
      slot < 0 || off < 0 || len < 0 || addr_off < 0)
    return Num(info, -EINVAL);
  return Num(info, backend_->recvfrom(token, fd, static_cast<uint32_t>(slot),
                                      static_cast<size_t>(off), static_cast<size_t>(len),
                                      static_cast<size_t>(addr_off)));
}

// sendto(token, fd, slot, offset, length, address): the address as sockaddr() encoded it.
Napi::Value JsRing::SendTo(const Napi::CallbackInfo& info) {
  int32_t token, fd, slot, off, len;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd) || !ArgInt(info, 2, &slot) ||
      !ArgInt(info, 3, &off) || !ArgInt(info, 4, &len) || slot < 0 || off < 0 || len < 0 ||
      info.Length() < 6 || !info[5].IsTypedArray() ||
      info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    return Num(info, -EINVAL);
  Napi::Uint8Array addr = info[5].As<Napi::Uint8Array>();
  const size_t alen = EncodedAddrLen(addr.Data(), addr.ElementLength());
  if (alen == 0) return Num(info, -EINVAL);
  return Num(info, backend_->sendto(token, fd, static_cast<uint32_t>(slot),
                                    static_cast<size_t>(off), static_cast<size_t>(len),
                                    addr.Data(), alen));
}

Napi::Value JsRing::Poll(const Napi::CallbackInfo& info) {
  int32_t token, fd, events;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token) || !ArgInt(info, 1, &fd) || !ArgInt(info, 2, &events))
    return Num(info, -EINVAL);
  return Num(info, backend_->poll(token, fd, static_cast<uint32_t>(events)));
}

Napi::Value JsRing::Cancel(const Napi::CallbackInfo& info) {
  int32_t token;
  if (closed_) return Num(info, -EBADF);
  if (!ArgInt(info, 0, &token)) return Num(info, -EINVAL);
  return Num(info, backend_->cancel(token));
}

Napi::Value JsRing::Submit(const Napi::CallbackInfo& info) {
  return Num(info, closed_ ? -EBADF : backend_->flush());
}

// wait(timeoutMs): exclusive mode only. Submits what is queued, waits up to timeoutMs (-1:
// forever) for a completion, and returns the number of triples collected, or -errno.
Napi::Value JsRing::Wait(const Napi::CallbackInfo& info) {
  int32_t timeout = -1;
  if (closed_) return Num(info, -EBADF);
  if (mode_ != RingMode::kExclusive) return Num(info, -EPERM);
  if (info.Length() > 0 && !ArgInt(info, 0, &timeout)) return Num(info, -EINVAL);
  int rc = backend_->wait(timeout < 0 ? -1 : timeout);
  if (rc < 0) return Num(info, rc);
  return Num(info, backend_->collect(buf_, capacity_));
}

Napi::Value JsRing::Wakeup(const Napi::CallbackInfo& info) {
  return Num(info, closed_ ? -EBADF : backend_->wakeup());
}

Napi::Value JsRing::Ref(const Napi::CallbackInfo& info) {
  if (!closed_ && poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  if (!closed_ && shared_ != nullptr) tsfn_.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value JsRing::Unref(const Napi::CallbackInfo& info) {
  if (!closed_ && poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  if (!closed_ && shared_ != nullptr) tsfn_.Unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value JsRing::CloseJs(const Napi::CallbackInfo& info) {
  Close(true);
  return info.Env().Undefined();
}

void JsRing::Close(bool deliver) {
  if (closed_) return;
  closed_ = true;
  CloseHandle<uv_poll_t, uv_poll_stop>(poll_);
  CloseHandle<uv_prepare_t, uv_prepare_stop>(prepare_);
  if (backend_) StopThread();
  if (backend_) {
    // The kernel may write into a registered buffer until the operation's completion is
    // collected, so the buffers are released only after that (or after the bound, if the kernel
    // is stuck; closing the ring then cancels what is left).
    int32_t scratch[3 * 64];
    int32_t* out = deliver ? buf_ : scratch;
    const int cap = deliver ? capacity_ : 64;
    const bool call = deliver && !on_completions_.IsEmpty();
    if (backend_->in_flight() > 0) backend_->cancel_all();  // a failure is retried below
    const uint64_t deadline = NowMs() + kCloseWaitMs;
    Napi::Env env(env_);
    std::unique_ptr<Napi::Error> pending;
    while (backend_->in_flight() > 0) {
      const int n = backend_->collect(out, cap);
      if (n > 0 && call) {
        napi_value argv[1] = {Napi::Number::New(env, n)};
        try {
          on_completions_.Call(Value(), 1, argv);
        } catch (const Napi::Error& e) {
          if (!pending) pending.reset(new Napi::Error(e));
        }
        continue;
      }
      if (n > 0) continue;
      // A cancel that found the submission queue full is asked again once there is room; the
      // ones already asked are skipped.
      backend_->cancel_all();
      const uint64_t now = NowMs();
      if (now >= deadline) break;
      const int left = static_cast<int>(deadline - now);
      if (backend_->wait(left < 50 ? left : 50) < 0) break;
    }
    backend_->close();
    if (pending) {
      // After the ring is gone: the handler's exception reaches the caller of close().
      if (env_ != nullptr && hook_added_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
      hook_added_ = false;
      for (auto& r : slot_refs_) r.Reset();
      throw *pending;
    }
  }
  if (deliver) {
    // Called from JavaScript: the buffers can go now rather than with the object.
    for (auto& r : slot_refs_) r.Reset();
  }
  if (env_ != nullptr && hook_added_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  hook_added_ = false;
}

// ringProbe(): 0 when this host can open a ring of the binary's completion backend (io_uring,
// IOCP) with the operations the socket layer needs, else -errno (-ENOSYS: no io_uring or no NODROP, -EPERM: switched off or filtered,
// -EOPNOTSUPP: an operation missing).
Napi::Value RingProbe(const Napi::CallbackInfo& info) {
  std::unique_ptr<CompletionBackend> b(NewCompletionBackend());
  if (!b) return Napi::Number::New(info.Env(), -ENOSYS);
  RingLimits limits;
  limits.entries = 4;
  limits.max_ops = 4;
  limits.slots = 0;
  int rc = b->open(limits);
  if (rc == 0) {
    const uint32_t need = (1u << kOpRecv) | (1u << kOpSend) | (1u << kOpAccept) |
                          (1u << kOpConnect) | (1u << kOpPoll) | (1u << kOpRecvFrom) |
                          (1u << kOpSendTo);
    if ((b->ops() & need) != need) rc = -EOPNOTSUPP;
    b->close();
  }
  return Napi::Number::New(info.Env(), rc);
}

}  // namespace

void InitRing(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = JsRing::Define(env);
  data->ring_ctor = Napi::Persistent(ctor);
  exports.Set("Ring", ctor);
  exports.Set("ringProbe", Napi::Function::New<RingProbe>(env, "ringProbe"));
  {
    std::unique_ptr<CompletionBackend> b(NewCompletionBackend());
    exports.Set("ringBackend", Napi::String::New(env, b ? b->name() : ""));
  }
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* k, double v) { c.Set(k, Napi::Number::New(env, v)); };
  set("TOKEN_WAKEUP", kRingTokenWakeup);
  set("OP_RECV", kOpRecv);
  set("OP_SEND", kOpSend);
  set("OP_READ", kOpRead);
  set("OP_WRITE", kOpWrite);
  set("OP_ACCEPT", kOpAccept);
  set("OP_CONNECT", kOpConnect);
  set("OP_POLL", kOpPoll);
  set("OP_RECVFROM", kOpRecvFrom);
  set("OP_SENDTO", kOpSendTo);
  set("ADDR_BYTES", static_cast<double>(kRingAddrBytes));
  set("KIND_MASK", kCqKindMask);
  set("CANCEL_REQUESTED", kCqCancelRequested);
  set("FEAT_POLLABLE_FD", kRingFeatPollableFd);
  set("FEAT_WAIT_TIMEOUT", kRingFeatWaitTimeout);
  set("FEAT_THREAD_WAIT", kRingFeatThreadWait);
  exports.Set("ring", c);
}

}  // namespace asyncoro

// The one adapter between JavaScript and the readiness contract (poller.h).
//
// A Poller owns one backend and delivers its events into an Int32Array that JavaScript owns and
// passes in: [token, events, fd] triples. It runs in one of three modes:
// - integrated: Node's own libuv loop watches the backend's fd with a uv_poll_t. When it is
//   readable, one wait(0) fills the array and JavaScript is called once for the batch.
// - thread: a libuv thread blocks in the backend's wait, fills the array, and hands the batch to
//   JavaScript through a thread-safe function; it then waits until JavaScript has consumed the
//   batch before it touches the array again. For backends whose fd cannot be watched (poll,
//   select).
// - exclusive: JavaScript calls wait(timeoutMs) itself; nothing runs in the background.
//
// Threads, mutexes and condition variables are libuv's exported ones only: std::thread and
// friends would raise the libstdc++ floor of the prebuilt binary.
#include <errno.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <string>

#include "addon.h"
#include "js_glue.h"
#include "platform.h"
#include "poller.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#elif !defined(_WIN32)
#include <fcntl.h>
#endif

namespace asyncoro {
namespace {

enum class Mode { kIntegrated, kThread, kExclusive };

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kIntegrated: return "integrated";
    case Mode::kThread: return "thread";
    case Mode::kExclusive: return "exclusive";
  }
  return "?";
}

Backend* NewBackend(const std::string& name) {
  if (name == "epoll") return NewEpollBackend();
  if (name == "kqueue") return NewKqueueBackend();
  if (name == "devpoll") return NewDevpollBackend();
  if (name == "poll") return NewPollBackend();
  if (name == "select") return NewSelectBackend();
  return nullptr;
}

// A wake-up channel: an eventfd on Linux (one fd for both ends), a non-blocking pipe elsewhere,
// a loopback socket pair on Windows (select() watches sockets only).
struct WakeChannel {
  int rd = -1;
  int wr = -1;

  WakeChannel() = default;
  WakeChannel(const WakeChannel&) = delete;
  WakeChannel& operator=(const WakeChannel&) = delete;
  // Also closes the fds when a Poller's constructor throws after opening them: the Poller's own
  // destructor does not run then, only its members'.
  ~WakeChannel() { close(); }

  int open() {
#if defined(_WIN32)
    SOCKET pair[2];
    const int rc = LoopbackPair(SOCK_STREAM, pair);
    if (rc < 0) return rc;
    rd = FdOf(pair[0]);
    wr = FdOf(pair[1]);
    return 0;
#elif defined(__linux__)
    rd = wr = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return rd < 0 ? -errno : 0;
#else
    int fds[2];
    if (pipe(fds) < 0) return -errno;
    for (int fd : fds) {
      const int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        const int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        return -err;
      }
    }
    rd = fds[0];
    wr = fds[1];
    return 0;
#endif
  }
  void drain() const {
    uint64_t buf[8];
    // A full eventfd read resets the counter; a pipe is read until it is empty.
#if defined(_WIN32)
    while (recv(SockOf(rd), reinterpret_cast<char*>(buf), sizeof(buf), 0) > 0) {
    }
#else
    while (read(rd, buf, sizeof(buf)) > 0) {
    }
#endif
  }
  void close() {
#if defined(_WIN32)
    if (wr >= 0) closesocket(SockOf(wr));
    if (rd >= 0) closesocket(SockOf(rd));
#else
    if (wr >= 0 && wr != rd) ::close(wr);
    if (rd >= 0) ::close(rd);
#endif
    rd = wr = -1;
  }
};

// Writes one wake-up into a wake channel's write end. Safe from any thread. A full eventfd
// counter or pipe already means "woken", so EAGAIN is success.
int SignalFd(int fd) {
  const uint64_t one = 1;
#if defined(_WIN32)
  if (send(SockOf(fd), reinterpret_cast<const char*>(&one), sizeof(one), 0) >= 0) return 0;
  const int err = LastSocketError();
  return err == -EAGAIN ? 0 : err;
#else
  for (;;) {
    ssize_t n = write(fd, &one, sizeof(one));
    if (n >= 0) return 0;
    if (errno == EINTR) continue;
    return errno == EAGAIN ? 0 : -errno;
  }
#endif
}

class JsPoller;

// State shared between the JavaScript thread and the waiting thread (thread mode). It outlives
// the Poller until the thread-safe function is finalized, because calls may still be queued.
struct ThreadShared {
  uv_mutex_t mu;
  uv_cond_t cv;
  uv_thread_t thread;
  JsPoller* owner = nullptr;  // cleared on close, under mu
  bool consumed = true;       // JavaScript has handled the last batch
  bool stopping = false;
  bool in_block = false;      // the thread is in (or about to enter) the blocking syscall
  bool rearm_pending = false; // a rearm wake-up was written and not yet seen
  int count = 0;              // size of the batch handed over (or -errno)
  // Two owners: the Poller (until Close() has joined the thread) and the thread-safe function
  // (until its finalizer). Node runs that finalizer before it drains the queue, so neither may
  // free this alone; the last one to let go does.
  int refs = 2;
};

void ReleaseShared(ThreadShared* s) {
  if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  uv_cond_destroy(&s->cv);
  uv_mutex_destroy(&s->mu);
  delete s;
}

void CallJsBatch(Napi::Env env, Napi::Function cb, ThreadShared* shared, void* data);
using BatchTsfn = Napi::TypedThreadSafeFunction<ThreadShared, void, CallJsBatch>;

class JsPoller : public Napi::ObjectWrap<JsPoller> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit JsPoller(const Napi::CallbackInfo& info);
  ~JsPoller() override { Close(); }

  // Called on the JavaScript thread with a batch size (or -errno), from either mode.
  void Deliver(Napi::Env env, int count, bool from_tsfn);

 private:
  Napi::Value Add(const Napi::CallbackInfo& info) { return Change(info, 0); }
  Napi::Value Modify(const Napi::CallbackInfo& info) { return Change(info, 1); }
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Wakeup(const Napi::CallbackInfo& info);
  Napi::Value CloseJs(const Napi::CallbackInfo& info);
  Napi::Value GetBackend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), backend_name_);
  }
  Napi::Value GetMode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), ModeName(mode_));
  }
  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), backend_ ? backend_->fd() : -1);
  }
  Napi::Value GetWakeupFd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), wake_.wr);
  }
  Napi::Value GetCapacity(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), capacity_);
  }
  Napi::Value GetFeatures(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), features_);
  }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), closed_);
  }

  Napi::Value Change(const Napi::CallbackInfo& info, int what);
  // Either end of a wake channel: the poller's own, never the caller's (-1 stands for an absent
  // rearm channel).
  bool OwnFd(int fd) const {
    return fd >= 0 && (fd == wake_.rd || fd == wake_.wr || fd == rearm_.rd || fd == rearm_.wr);
  }
  int WaitOnce(int timeout_ms);
  int Filter(int count);
  void StartIntegrated(Napi::Env env);
  void StartThread(Napi::Env env, Napi::Function cb);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void ThreadMain(void* arg);
  static void CleanupHook(void* arg) { static_cast<JsPoller*>(arg)->Close(); }
  void Close();

  std::unique_ptr<Backend> backend_;
  std::string backend_name_;
  Mode mode_ = Mode::kExclusive;
  uint32_t features_ = 0;
  int32_t* buf_ = nullptr;
  int capacity_ = 0;
  Napi::Reference<Napi::Int32Array> buf_ref_;
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  WakeChannel wake_;   // user-visible wake-ups, reported as kTokenWakeup
  WakeChannel rearm_;  // thread mode on snapshot backends: makes the thread take a new snapshot
  uv_poll_t* poll_ = nullptr;
  ThreadShared* shared_ = nullptr;
  BatchTsfn tsfn_;
  napi_env env_ = nullptr;
  bool closed_ = false;
};

Napi::Function JsPoller::Define(Napi::Env env) {
  return DefineClass(env, "Poller",
                     {
                         InstanceMethod<&JsPoller::Add>("add"),
                         InstanceMethod<&JsPoller::Modify>("modify"),
                         InstanceMethod<&JsPoller::Remove>("remove"),
                         InstanceMethod<&JsPoller::Wait>("wait"),
                         InstanceMethod<&JsPoller::Ref>("ref"),
                         InstanceMethod<&JsPoller::Unref>("unref"),
                         InstanceMethod<&JsPoller::Wakeup>("wakeup"),
                         InstanceMethod<&JsPoller::CloseJs>("close"),
                         InstanceAccessor<&JsPoller::GetBackend>("backend"),
                         InstanceAccessor<&JsPoller::GetMode>("mode"),
                         InstanceAccessor<&JsPoller::GetFd>("fd"),
                         InstanceAccessor<&JsPoller::GetWakeupFd>("wakeupFd"),
                         InstanceAccessor<&JsPoller::GetCapacity>("capacity"),
                         InstanceAccessor<&JsPoller::GetFeatures>("features"),
                         InstanceAccessor<&JsPoller::GetClosed>("closed"),
                     });
}

// new Poller(backend, mode, events: Int32Array, onEvents?: (count) => void)
// The TypeScript layer validates its users' arguments with typed errors; what arrives here wrong
// is a bug in that layer, so it throws.
JsPoller::JsPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsPoller>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsTypedArray())
    throw Napi::TypeError::New(env, "Poller(backend, mode, events: Int32Array, onEvents?)");
  backend_name_ = info[0].As<Napi::String>().Utf8Value();
  const std::string mode = info[1].As<Napi::String>().Utf8Value();
  if (mode == "integrated") mode_ = Mode::kIntegrated;
  else if (mode == "thread") mode_ = Mode::kThread;
  else if (mode == "exclusive") mode_ = Mode::kExclusive;
  else throw Napi::TypeError::New(env, "unknown poller mode: " + mode);

  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_int32_array || ta.ElementLength() < 3)
    throw Napi::TypeError::New(env, "events must be an Int32Array of at least 3 elements");
  Napi::Int32Array events = ta.As<Napi::Int32Array>();
  buf_ = events.Data();
  capacity_ = static_cast<int>(events.ElementLength() / 3);
  buf_ref_ = Napi::Persistent(events);

  if (mode_ != Mode::kExclusive && (info.Length() < 4 || !info[3].IsFunction()))
    throw Napi::TypeError::New(env, "integrated and thread modes need an onEvents function");

  backend_.reset(NewBackend(backend_name_));
  if (!backend_) throw Napi::Error::New(env, "poller backend not built into this binary: " +
                                                 backend_name_);
  // Features are read after open(): kqueue learns at open whether its fd can be watched.
  int rc = backend_->open();
  features_ = backend_->features();
  if (rc == 0 && mode_ == Mode::kIntegrated && !(features_ & kFeatPollableFd)) {
    Close();
    throw Napi::Error::New(env, backend_name_ + " has no pollable fd here: integrated mode is "
                                                "not possible, use thread or exclusive");
  }
  if (rc == 0) rc = backend_->reserve(capacity_);
  if (rc == 0) rc = wake_.open();
  if (rc == 0) rc = backend_->add(wake_.rd, kEvRead, kTokenWakeup);
  if (rc == 0 && mode_ == Mode::kThread && (features_ & kFeatSnapshot)) {
    rc = rearm_.open();
    if (rc == 0) rc = backend_->add(rearm_.rd, kEvRead, kTokenRearm);
  }
  if (rc != 0) {
    Close();
    Napi::Error err = Napi::Error::New(env, backend_name_ + ": " + strerror(-rc));
    err.Set("errno", Napi::Number::New(env, rc));
    throw err;
  }

  if (mode_ != Mode::kExclusive) {
    on_events_ = Napi::Persistent(info[3].As<Napi::Function>());
    async_context_.reset(new Napi::AsyncContext(env, "asyncoro.Poller"));
    if (mode_ == Mode::kIntegrated) StartIntegrated(env);
    else StartThread(env, info[3].As<Napi::Function>());
  }
  napi_add_env_cleanup_hook(env, CleanupHook, this);
}

void JsPoller::StartIntegrated(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok)
    throw Napi::Error::New(env, "no libuv loop in this environment");
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, backend_->fd());
  if (rc == 0) {
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (rc != 0) uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
      delete reinterpret_cast<uv_poll_t*>(h);
    });
  } else {
    delete poll_;
  }
  if (rc != 0) {
    poll_ = nullptr;
    throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(rc));
  }
}

void JsPoller::OnPoll(uv_poll_t* handle, int status, int) {
  JsPoller* self = static_cast<JsPoller*>(handle->data);
  if (self == nullptr || self->closed_) return;
  Napi::Env env(self->env_);
  if (status < 0) {
    self->Deliver(env, status, false);
    return;
  }
  const int n = self->WaitOnce(0);
  if (n != 0) self->Deliver(env, n, false);
}

void JsPoller::StartThread(Napi::Env env, Napi::Function cb) {
  shared_ = new ThreadShared();
  uv_mutex_init(&shared_->mu);
  uv_cond_init(&shared_->cv);
  shared_->owner = this;
  ThreadShared* shared = shared_;
  tsfn_ = BatchTsfn::New(env, cb, "asyncoro.Poller", 0, 1, shared,
                         [](Napi::Env, void*, ThreadShared* s) { ReleaseShared(s); },
                         static_cast<void*>(nullptr));
  int rc = uv_thread_create(&shared->thread, ThreadMain, this);
  if (rc != 0) {
    shared_->owner = nullptr;
    tsfn_.Release();
    ReleaseShared(shared_);
    shared_ = nullptr;
    throw Napi::Error::New(env, std::string("uv_thread_create: ") + uv_strerror(rc));
  }
}

// The waiting thread. It touches the backend only under the lock, except for block(), and the
// event array only while JavaScript is not reading it (between a consumed batch and the next).
void JsPoller::ThreadMain(void* arg) {
  JsPoller* self = static_cast<JsPoller*>(arg);
  ThreadShared* s = self->shared_;
  Backend* backend = self->backend_.get();
  for (;;) {
    uv_mutex_lock(&s->mu);
    if (s->stopping) {
      uv_mutex_unlock(&s->mu);
      break;
    }
    backend->prepare();
    s->in_block = true;
    uv_mutex_unlock(&s->mu);

    int n = backend->block(-1);

    uv_mutex_lock(&s->mu);
    s->in_block = false;
    if (s->stopping) {
      uv_mutex_unlock(&s->mu);
      break;
    }
    if (n == -EINTR) n = 0;
    if (n >= 0) n = self->Filter(backend->collect(self->buf_, self->capacity_));
    s->rearm_pending = false;
    if (n == 0) {
      uv_mutex_unlock(&s->mu);
      continue;
    }
    s->count = n;
    s->consumed = false;
    uv_mutex_unlock(&s->mu);
    if (self->tsfn_.NonBlockingCall() != napi_ok) break;
    uv_mutex_lock(&s->mu);
    while (!s->consumed && !s->stopping) uv_cond_wait(&s->cv, &s->mu);
    const bool stop = s->stopping;
    uv_mutex_unlock(&s->mu);
    // A failing wait is reported once; looping on it would spin.
    if (stop || n < 0) break;
  }
}

void CallJsBatch(Napi::Env env, Napi::Function, ThreadShared* s, void*) {
  // A null env: the function is being torn down and Node is emptying its queue, after its
  // finalizer; the Poller has already joined its thread, and there is nobody to deliver to.
  if (env == nullptr) return;
  uv_mutex_lock(&s->mu);
  JsPoller* owner = s->owner;
  const int count = s->count;
  uv_mutex_unlock(&s->mu);
  if (env != nullptr && owner != nullptr) owner->Deliver(env, count, true);
  uv_mutex_lock(&s->mu);
  s->consumed = true;
  uv_cond_signal(&s->cv);
  uv_mutex_unlock(&s->mu);
}

void JsPoller::Deliver(Napi::Env env, int count, bool from_tsfn) {
  if (closed_ || on_events_.IsEmpty()) return;
  DeliverBatch(env, static_cast<napi_ref>(*this), static_cast<napi_ref>(on_events_),
               from_tsfn ? nullptr : static_cast<napi_async_context>(*async_context_), count);
}

// Handles the internal tokens in a collected batch: drains the wake channels, turns a wake-up
// into a user-visible kEvWakeup triple and removes rearm triples. Returns the new count.
int JsPoller::Filter(int count) {
  int out = 0;
  for (int i = 0; i < count; i++) {
    int32_t* t = buf_ + 3 * i;
    if (t[0] == kTokenRearm) {
      rearm_.drain();
      continue;
    }
    if (t[0] == kTokenWakeup) {
      wake_.drain();
      t[1] = static_cast<int32_t>(kEvWakeup);
      t[2] = wake_.wr;  // the fd the caller knows it by (wakeupFd), where the two ends differ
    }
    if (out != i) {
      int32_t* d = buf_ + 3 * out;
      d[0] = t[0];
      d[1] = t[1];
      d[2] = t[2];
    }
    out++;
  }
  return out;
}

int JsPoller::WaitOnce(int timeout_ms) {
  backend_->prepare();
  int n = backend_->block(timeout_ms);
  if (n == -EINTR) return 0;
  if (n < 0) return n;
  if (n == 0) return 0;
  return Filter(backend_->collect(buf_, capacity_));
}

Napi::Value JsPoller::Change(const Napi::CallbackInfo& info, int what) {
  Napi::Env env = info.Env();
  int32_t fd, events, token;
  if (closed_) return Napi::Number::New(env, -EBADF);
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &events) || !ArgInt(info, 2, &token) ||
      token < 0 || (static_cast<uint32_t>(events) & ~(kEvRead | kEvWrite | kEvEdge | kEvOneShot)))
    return Napi::Number::New(env, -EINVAL);
  if (OwnFd(fd)) return Napi::Number::New(env, -EEXIST);
  if (mode_ != Mode::kThread) {
    int rc = what == 0 ? backend_->add(fd, static_cast<uint32_t>(events), token)
                       : backend_->modify(fd, static_cast<uint32_t>(events), token);
    return Napi::Number::New(env, rc);
  }
  uv_mutex_lock(&shared_->mu);
  int rc = what == 0 ? backend_->add(fd, static_cast<uint32_t>(events), token)
                     : backend_->modify(fd, static_cast<uint32_t>(events), token);
  // A snapshot backend's blocked thread must take a new copy to see the change. One wake-up
  // serves every change made before the thread gets to it.
  if (rc == 0 && (features_ & kFeatSnapshot) && shared_->in_block && !shared_->rearm_pending) {
    shared_->rearm_pending = true;
    SignalFd(rearm_.wr);
  }
  uv_mutex_unlock(&shared_->mu);
  return Napi::Number::New(env, rc);
}

Napi::Value JsPoller::Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (closed_) return Napi::Number::New(env, -EBADF);
  if (!ArgInt(info, 0, &fd)) return Napi::Number::New(env, -EINVAL);
  if (OwnFd(fd)) return Napi::Number::New(env, -ENOENT);
  if (mode_ != Mode::kThread) return Napi::Number::New(env, backend_->remove(fd));
  // A snapshot thread may still be blocked on the removed fd; that is harmless, because collect()
  // drops whatever it reports, and the fd's next registration has its own token.
  uv_mutex_lock(&shared_->mu);
  int rc = backend_->remove(fd);
  uv_mutex_unlock(&shared_->mu);
  return Napi::Number::New(env, rc);
}

Napi::Value JsPoller::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t timeout = -1;
  if (closed_) return Napi::Number::New(env, -EBADF);
  if (mode_ != Mode::kExclusive) return Napi::Number::New(env, -EPERM);
  if (info.Length() > 0 && !ArgInt(info, 0, &timeout)) return Napi::Number::New(env, -EINVAL);
  return Napi::Number::New(env, WaitOnce(timeout < 0 ? -1 : timeout));
}

Napi::Value JsPoller::Ref(const Napi::CallbackInfo& info) {
  if (!closed_) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    if (shared_ != nullptr) tsfn_.Ref(info.Env());
  }
  return info.Env().Undefined();
}

Napi::Value JsPoller::Unref(const Napi::CallbackInfo& info) {
  if (!closed_) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    if (shared_ != nullptr) tsfn_.Unref(info.Env());
  }
  return info.Env().Undefined();
}

Napi::Value JsPoller::Wakeup(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), closed_ ? -EBADF : SignalFd(wake_.wr));
}

Napi::Value JsPoller::CloseJs(const Napi::CallbackInfo& info) {
  Close();
  return info.Env().Undefined();
}

void JsPoller::Close() {
  if (closed_) return;
  closed_ = true;
  CloseHandle<uv_poll_t, uv_poll_stop>(poll_);
  if (shared_ != nullptr) {
    uv_mutex_lock(&shared_->mu);
    shared_->stopping = true;
    shared_->owner = nullptr;
    uv_cond_signal(&shared_->cv);
    uv_mutex_unlock(&shared_->mu);
    SignalFd(rearm_.wr >= 0 ? rearm_.wr : wake_.wr);
    uv_thread_join(&shared_->thread);
    tsfn_.Release();
    ReleaseShared(shared_);
    shared_ = nullptr;
  }
  if (backend_) backend_->close();
  wake_.close();
  rearm_.close();
  if (env_ != nullptr) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  // The references are dropped when the object itself goes; during GC finalization no call into
  // the engine is allowed, so nothing is reset here.
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* name : {"epoll", "kqueue", "devpoll", "poll", "select"}) {
    std::unique_ptr<Backend> b(NewBackend(name));
    if (!b || b->open() != 0) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name);
    o.Set("features", Napi::Number::New(env, b->features()));
    list.Set(i++, o);
    b->close();
  }
  return list;
}

// wakeup(fd): wakes the poller whose wakeupFd this is, from any thread (worker_threads too).
Napi::Value WakeupFd(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgInt(info, 0, &fd) || fd < 0) return Napi::Number::New(info.Env(), -EINVAL);
  return Napi::Number::New(info.Env(), SignalFd(fd));
}

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = JsPoller::Define(env);
  data->poller_ctor = Napi::Persistent(ctor);
  exports.Set("Poller", ctor);
  exports.Set("backends", Napi::Function::New<Backends>(env, "backends"));
  exports.Set("wakeup", Napi::Function::New<WakeupFd>(env, "wakeup"));
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("READ", Napi::Number::New(env, static_cast<double>(kEvRead)));
  ev.Set("WRITE", Napi::Number::New(env, static_cast<double>(kEvWrite)));
  ev.Set("ERROR", Napi::Number::New(env, static_cast<double>(kEvError)));
  ev.Set("HANGUP", Napi::Number::New(env, static_cast<double>(kEvHangup)));
  ev.Set("EDGE", Napi::Number::New(env, static_cast<double>(kEvEdge)));
  ev.Set("ONESHOT", Napi::Number::New(env, static_cast<double>(kEvOneShot)));
  ev.Set("WAKEUP", Napi::Number::New(env, static_cast<double>(kEvWakeup)));
  ev.Set("TOKEN_WAKEUP", Napi::Number::New(env, static_cast<double>(kTokenWakeup)));
  ev.Set("FEAT_EDGE", Napi::Number::New(env, static_cast<double>(kFeatEdge)));
  ev.Set("FEAT_ONESHOT", Napi::Number::New(env, static_cast<double>(kFeatOneShot)));
  ev.Set("FEAT_POLLABLE_FD", Napi::Number::New(env, static_cast<double>(kFeatPollableFd)));
  ev.Set("FEAT_SNAPSHOT", Napi::Number::New(env, static_cast<double>(kFeatSnapshot)));
  exports.Set("events", ev);
}

}  // namespace asyncoro

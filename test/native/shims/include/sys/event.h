// TEST SHIM, not the system header: the part of kqueue's <sys/event.h> that
// native/poller_kqueue.cc uses, for building that backend on Linux against kqueue.cc in this
// directory (kqueue and kevent over epoll). The names, types and values follow kqueue(2) and the
// headers of FreeBSD and macOS, which agree on everything declared here.
#ifndef ASYNCORO_SHIM_SYS_EVENT_H_
#define ASYNCORO_SHIM_SYS_EVENT_H_

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;  // the fd
  int16_t filter;   // EVFILT_*
  uint16_t flags;   // EV_*
  uint32_t fflags;  // filter flags; on return with EV_EOF, the socket error
  intptr_t data;    // on return: bytes readable (EVFILT_READ), or the errno of an EV_ERROR entry
  void* udata;      // the caller's word, returned untouched
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

#define EV_ADD 0x0001      // add or modify a knote; a new one is enabled unless EV_DISABLE
#define EV_DELETE 0x0002   // remove a knote
#define EV_ENABLE 0x0004   // report the knote's events
#define EV_DISABLE 0x0008  // keep the knote but report nothing
#define EV_ONESHOT 0x0010  // delete the knote once its event is retrieved
#define EV_CLEAR 0x0020    // reset the knote's state once its event is retrieved (edge)
#define EV_ERROR 0x4000    // returned: a change failed, data holds the errno
#define EV_EOF 0x8000      // returned: the other end is gone

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_set_ = (kevp);   \
    ev_set_->ident = (a);              \
    ev_set_->filter = (b);             \
    ev_set_->flags = (c);              \
    ev_set_->fflags = (d);             \
    ev_set_->data = (e);               \
    ev_set_->udata = (f);              \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif
int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);
#ifdef __cplusplus
}
#endif

#endif  // ASYNCORO_SHIM_SYS_EVENT_H_

// TEST SHIM, not the system header: the part of Solaris' <sys/devpoll.h> that
// native/poller_devpoll.cc uses, for building that backend on Linux against devpoll.cc in this
// directory (/dev/poll over poll(2)). The names and the structure follow poll(7D); DP_POLL has
// Solaris' value.
#ifndef ASYNCORO_SHIM_SYS_DEVPOLL_H_
#define ASYNCORO_SHIM_SYS_DEVPOLL_H_

#include <poll.h>

// An entry written with exactly this in events removes its fd from the set. glibc's <poll.h>
// already defines it (0x1000) for Linux's own use; Solaris has 0x0800. Either is distinct from
// the events the backend asks for.
#ifndef POLLREMOVE
#define POLLREMOVE 0x0800
#endif

struct dvpoll {
  struct pollfd* dp_fds;  // where DP_POLL puts the ready entries
  int dp_nfds;            // room in dp_fds
  int dp_timeout;         // ms; 0 returns at once, -1 waits forever
};

#define DP_POLL 0xD001

#endif  // ASYNCORO_SHIM_SYS_DEVPOLL_H_

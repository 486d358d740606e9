// TEST SHIMS: what the shim files in this directory share (see kqueue.cc and devpoll.cc).
#ifndef ASYNCORO_SHIMS_H_
#define ASYNCORO_SHIMS_H_

// Called by the close() wrapper before the real close(): forget what each shim keeps for `fd`.
void ShimKqueueClosing(int fd);
void ShimDevpollClosing(int fd);

#endif  // ASYNCORO_SHIMS_H_

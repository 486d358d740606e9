// What differs between POSIX and Windows sockets, in one place, so the files above it are written
// once. On POSIX this header only includes the system headers.
//
// Windows facts this header stands on:
// - A SOCKET is a kernel handle (UINT_PTR). Handles of a 64-bit process fit in 32 bits (Windows
//   keeps them so for 32/64-bit interoperation), so a socket crosses the JavaScript boundary as
//   the same int32 "fd" as on POSIX. Only sockets are fds on Windows: pipe() and socketpair() make
//   connected loopback sockets, because Windows' anonymous pipes can neither be select()ed nor
//   used with overlapped I/O.
// - Winsock reports errors through WSAGetLastError() with its own numbers (WSAEWOULDBLOCK, ...).
//   ErrnoFromWin() maps them (and Win32 errors) into the errno numbers of the C runtime's errno.h,
//   which errors.cc exports: the TypeScript layer sees one table on every platform.
// - Winsock must be started (WSAStartup) before any call; the addon does it at load.
#ifndef ASYNCORO_PLATFORM_H_
#define ASYNCORO_PLATFORM_H_

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <errno.h>
#include <stdint.h>

namespace asyncoro {

inline SOCKET SockOf(int fd) { return static_cast<SOCKET>(static_cast<uintptr_t>(static_cast<uint32_t>(fd))); }
inline int FdOf(SOCKET s) { return static_cast<int>(static_cast<uint32_t>(s)); }

// The errno number (errors.cc's table) for a Winsock or Win32 error code; EIO for an unknown one.
int ErrnoFromWin(int code);
// -errno for the calling thread's last Winsock error.
inline int LastSocketError() { return -ErrnoFromWin(WSAGetLastError()); }

// A connected pair of non-blocking, non-inheritable loopback sockets (TCP for a stream, UDP for
// datagrams), Windows' stand-in for socketpair(2) and pipe(2). 0 or -errno.
int LoopbackPair(int type, SOCKET out[2]);

}  // namespace asyncoro

#else
#include <errno.h>
#include <unistd.h>
#endif

#endif  // ASYNCORO_PLATFORM_H_

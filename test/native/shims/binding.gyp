# TEST-ONLY addon: the shipped sources plus the shims in this directory, so the kqueue and
# /dev/poll backends build and run on Linux. Never packed, never prebuilt. Built by
# `npm run build:shims` into test/native/shims/build/; the tests load it with
# ASYNCORO_PREBUILD=test/native/shims (node-gyp-build's override of the directory it loads from).
{
  "targets": [
    {
      "target_name": "asyncoro",
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "sources": [
        "../../../native/addon.cc",
        "../../../native/compat.cc",
        "../../../native/errors.cc",
        "../../../native/iocp.cc",
        "../../../native/js_poller.cc",
        "../../../native/js_ring.cc",
        "../../../native/poller_devpoll.cc",
        "../../../native/poller_epoll.cc",
        "../../../native/poller_kqueue.cc",
        "../../../native/poller_poll.cc",
        "../../../native/poller_select.cc",
        "../../../native/process.cc",
        "../../../native/sockets.cc",
        "../../../native/uring.cc",
        "devpoll.cc",
        "kqueue.cc",
        "wrap.cc"
      ],
      # <sys/event.h> and <sys/devpoll.h> come from include/ (the shim headers).
      "include_dirs": ["include"],
      "defines": ["ASYNCORO_KQUEUE_SHIM", "ASYNCORO_DEVPOLL_SHIM"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      # The addon's own open/open64/write/ioctl/close calls go to the shims' __wrap_ functions.
      "ldflags": ["-Wl,--wrap=open", "-Wl,--wrap=open64", "-Wl,--wrap=write",
                  "-Wl,--wrap=ioctl", "-Wl,--wrap=close"]
    }
  ]
}

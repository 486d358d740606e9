{
  "targets": [
    {
      "target_name": "asyncoro",
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      # Every backend file is built everywhere: each guards itself by platform and is a factory
      # returning nullptr elsewhere. epoll and io_uring are real on Linux, kqueue on macOS,
      # FreeBSD and OpenBSD, /dev/poll on Solaris and illumos, poll and select on all of them.
      "sources": [
        "native/addon.cc",
        "native/compat.cc",
        "native/errors.cc",
        "native/js_poller.cc",
        "native/js_ring.cc",
        "native/poller_devpoll.cc",
        "native/poller_epoll.cc",
        "native/poller_kqueue.cc",
        "native/poller_poll.cc",
        "native/poller_select.cc",
        "native/sockets.cc",
        "native/uring.cc"
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }],
        ["OS=='solaris'", {
          # Sockets live in libsocket and libnsl there, not in libc.
          "libraries": ["-lsocket", "-lnsl"]
        }]
      ]
    }
  ]
}

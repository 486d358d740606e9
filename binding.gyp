{
  "targets": [
    {
      "target_name": "asyncoro",
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "sources": [
        "native/addon.cc",
        "native/compat.cc",
        "native/errors.cc",
        "native/js_poller.cc",
        "native/js_ring.cc",
        "native/sockets.cc"
      ],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [
        # Every backend file in a list guards itself by platform and is a factory returning
        # nullptr where its kernel interface does not exist: epoll and io_uring are real on Linux,
        # kqueue on macOS, FreeBSD and OpenBSD, /dev/poll on Solaris and illumos.
        ["OS=='linux'", {
          "sources": ["native/poller_epoll.cc", "native/poller_kqueue.cc",
                      "native/poller_devpoll.cc", "native/poller_poll.cc",
                      "native/poller_select.cc", "native/uring.cc"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='solaris'", {
          "sources": ["native/poller_epoll.cc", "native/poller_kqueue.cc",
                      "native/poller_devpoll.cc", "native/poller_poll.cc",
                      "native/poller_select.cc", "native/uring.cc"],
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

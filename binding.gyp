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
        "native/iocp.cc",
        "native/js_poller.cc",
        "native/js_ring.cc",
        "native/process.cc",
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
        ["OS=='win'", {
          # Built here by scripts/build-win32.sh (mingw-w64), which reads these lists; node.exe's
          # imports are delay-loaded and resolved against the running executable.
          "sources": ["native/poller_epoll.cc", "native/poller_kqueue.cc", "native/poller_devpoll.cc",
                      "native/poller_poll.cc", "native/poller_select_win.cc",
                      "native/uring.cc", "native/win_delay_load.cc"],
          "defines": ["_WIN32_WINNT=0x0603", "WIN32_LEAN_AND_MEAN", "NOMINMAX"],
          "libraries": ["-lws2_32", "-liphlpapi"]
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

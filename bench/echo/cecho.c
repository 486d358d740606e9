/*
 * A minimal C echo server on epoll (edge-triggered, one thread): the physical limit the echo
 * benchmark compares asyncoro and Node's net against. Prints its port, then serves until killed.
 * Usage: cecho [port]   (0 or none: any free port on 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "cecho: %s: %s\n", what, strerror(errno));
  exit(2);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l < 0) die("socket");
  int one = 1;
  if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) die("SO_REUSEADDR");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
  if (listen(l, 511) < 0) die("listen");
  socklen_t len = sizeof(a);
  if (getsockname(l, (struct sockaddr *)&a, &len) < 0) die("getsockname");
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0) die("epoll_ctl");
  static char buf[65536];
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        for (;;) {
          int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno == EAGAIN || errno == ECONNABORTED) break;
            die("accept4");
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          struct epoll_event cev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = c};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) die("epoll_ctl");
        }
        continue;
      }
      /* Echo until EAGAIN. A load generator with one burst in flight never fills the send
         buffer, so a short write only happens when a client misbehaves: such a client is
         dropped rather than buffered for. */
      for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
          ssize_t w = write(fd, buf, (size_t)r);
          if (w != r) {
            close(fd);
            break;
          }
          continue;
        }
        if (r < 0 && errno == EAGAIN) break;
        close(fd);
        break;
      }
    }
  }
}

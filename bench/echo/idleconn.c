/*
 * Opens N idle TCP connections to 127.0.0.1:<port> and holds them until killed, for the
 * idle-connection memory benchmark. Source addresses are spread over 127.0.0.2, .3, ... (2,000
 * connections each) because one source address has a limited set of ephemeral ports (28,000 on
 * Linux, fewer in some sandboxes, and ports in TIME_WAIT from earlier runs count against it).
 * Prints "ready N" once all are connected. Needs an fd limit above N (run it under prlimit).
 * Usage: idleconn <port> <n>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: idleconn <port> <n>\n");
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[2]);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      fprintf(stderr, "idleconn: socket %d: %s\n", i, strerror(errno));
      return 1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
      fprintf(stderr, "idleconn: SO_REUSEADDR: %s\n", strerror(errno));
      return 1;
    }
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 0};
    from.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / 2000));
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
      fprintf(stderr, "idleconn: bind %d: %s\n", i, strerror(errno));
      return 1;
    }
    while (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
      /* A full accept queue refuses with EAGAIN-like errors on some kernels: retry shortly. */
      if (errno != EAGAIN && errno != EINTR) {
        fprintf(stderr, "idleconn: connect %d: %s\n", i, strerror(errno));
        return 1;
      }
      usleep(1000);
    }
  }
  printf("ready %d\n", n);
  fflush(stdout);
  /* Hold the connections until stdin closes or a signal ends the process. */
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}

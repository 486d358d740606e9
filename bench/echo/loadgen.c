/*
 * Echo load generator for asyncoro's socket benchmarks: opens N connections to an echo server,
 * keeps `depth` messages of `size` bytes in flight on each, checks that every byte comes back
 * unchanged, and prints one JSON line: messages per second and the round-trip latency of each
 * message (p50, p99, max) over the measured interval. Written in C with epoll, one thread, so the
 * generator costs far less CPU than the servers it measures.
 *
 * Usage: loadgen [-h host] [-p port] [-u unix-path] [-c conns] [-s size] [-d depth]
 *                [-t seconds] [-w warmup-seconds]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent;        /* bytes of the current burst written */
  size_t received;    /* bytes of the current burst read back */
  uint64_t started;   /* when the current burst began, ns */
  uint32_t seq;       /* burst number: selects the payload pattern */
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The byte at offset i of burst seq: varies with both, so a misplaced or stale byte is caught. */
static inline unsigned char pattern(uint32_t seq, size_t i) {
  return (unsigned char)((i * 31u + seq * 7u) & 0xff);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *unix_path = NULL;
  int port = 0, conns = 50, depth = 1, seconds = 5, warmup = 1;
  size_t size = 64;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:u:c:s:d:t:w:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': unix_path = optarg; break;
      case 'c': conns = atoi(optarg); break;
      case 's': size = (size_t)strtoul(optarg, NULL, 10); break;
      case 'd': depth = atoi(optarg); break;
      case 't': seconds = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      default:
        fprintf(stderr, "usage: loadgen [-h host] [-p port] [-u path] [-c conns] [-s size] "
                        "[-d depth] [-t seconds] [-w warmup]\n");
        return 2;
    }
  }
  if ((!unix_path && port <= 0) || conns <= 0 || size == 0 || depth <= 0 || seconds <= 0) {
    fprintf(stderr, "loadgen: need a port (or -u), and positive conns, size, depth, seconds\n");
    return 2;
  }

  struct sockaddr_storage addr;
  socklen_t addrlen;
  memset(&addr, 0, sizeof(addr));
  if (unix_path) {
    struct sockaddr_un *un = (struct sockaddr_un *)&addr;
    un->sun_family = AF_UNIX;
    if (strlen(unix_path) >= sizeof(un->sun_path)) { fprintf(stderr, "loadgen: path too long\n"); return 2; }
    strcpy(un->sun_path, unix_path);
    addrlen = sizeof(*un);
  } else {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) { fprintf(stderr, "loadgen: %s: %s\n", host, gai_strerror(rc)); return 2; }
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    addrlen = res->ai_addrlen;
    freeaddrinfo(res);
  }

  /* A burst is `depth` messages written back to back; its round trip ends when all came back. */
  const size_t burst = size * (size_t)depth;
  unsigned char *out = malloc(burst), *in = malloc(burst < 65536 ? 65536 : burst);
  struct conn *cs = calloc((size_t)conns, sizeof(*cs));
  size_t lat_cap = 1u << 20, lat_n = 0;
  uint32_t *lat = malloc(lat_cap * sizeof(*lat));
  if (!out || !in || !cs || !lat) die("malloc");

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < conns; i++) {
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, addrlen) < 0) die("connect");
    int one = 1;
    if (!unix_path && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) die("TCP_NODELAY");
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
    cs[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    cs[i].started = now_ns();
  }

  const uint64_t t0 = now_ns();
  const uint64_t measure_from = t0 + (uint64_t)warmup * 1000000000u;
  const uint64_t end = measure_from + (uint64_t)seconds * 1000000000u;
  uint64_t messages = 0, bytes = 0, mismatches = 0;
  struct epoll_event evs[256];
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end) break;
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      struct conn *c = &cs[evs[k].data.u32];
      if (evs[k].events & (EPOLLERR | EPOLLHUP)) {
        fprintf(stderr, "loadgen: connection %u closed by the server\n", evs[k].data.u32);
        return 1;
      }
      if ((evs[k].events & EPOLLOUT) && c->sent < burst) {
        for (size_t i = c->sent; i < burst; i++) out[i] = pattern(c->seq, i % size);
        ssize_t w = send(c->fd, out + c->sent, burst - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) die("send");
        if (w > 0) c->sent += (size_t)w;
        if (c->sent == burst) {
          struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[k].data.u32};
          if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        }
      }
      if (evs[k].events & EPOLLIN) {
        for (;;) {
          size_t want = burst - c->received;
          if (want == 0) break;
          ssize_t r = recv(c->fd, in, want < 65536 ? want : 65536, 0);
          if (r == 0) {
            fprintf(stderr, "loadgen: the server closed a connection\n");
            return 1;
          }
          if (r < 0) {
            if (errno == EAGAIN) break;
            die("recv");
          }
          for (ssize_t i = 0; i < r; i++)
            if (in[i] != pattern(c->seq, (c->received + (size_t)i) % size)) mismatches++;
          c->received += (size_t)r;
        }
        if (c->received == burst) {
          uint64_t done = now_ns();
          if (done >= measure_from && done < end) {
            messages += (uint64_t)depth;
            bytes += burst;
            if (lat_n == lat_cap) {
              lat_cap *= 2;
              lat = realloc(lat, lat_cap * sizeof(*lat));
              if (!lat) die("realloc");
            }
            uint64_t us = (done - c->started) / 1000u;
            lat[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
          }
          c->seq++;
          c->sent = c->received = 0;
          c->started = done;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = evs[k].data.u32};
          if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
        }
      }
    }
  }
  qsort(lat, lat_n, sizeof(*lat), cmp_u32);
  double secs = (double)seconds;
  uint32_t p50 = lat_n ? lat[lat_n / 2] : 0, p99 = lat_n ? lat[(lat_n * 99) / 100] : 0;
  uint32_t max = lat_n ? lat[lat_n - 1] : 0;
  printf("{\"conns\":%d,\"size\":%zu,\"depth\":%d,\"seconds\":%d,\"messages\":%llu,"
         "\"msgs_per_sec\":%.0f,\"mb_per_sec\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,"
         "\"mismatches\":%llu}\n",
         conns, size, depth, seconds, (unsigned long long)messages, (double)messages / secs,
         (double)bytes / secs / 1e6, p50, p99, max, (unsigned long long)mismatches);
  for (int i = 0; i < conns; i++) close(cs[i].fd);
  close(ep);
  free(out);
  free(in);
  free(cs);
  free(lat);
  return mismatches ? 1 : 0;
}

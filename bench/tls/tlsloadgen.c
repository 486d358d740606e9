/*
 * TLS load generator for asyncoro's TLS benchmark (bench/tls.ts), on the system's OpenSSL: one
 * thread, epoll, non-blocking sockets, so it costs far less CPU than the servers it measures.
 *
 * Two modes:
 * - echo (default): N connections, each with one TLS handshake, then messages of `size` bytes
 *   one at a time per connection; every byte that comes back is checked. Reports messages per
 *   second and round-trip latency (p50, p99).
 * - handshake (-H): N connections at a time, each doing a full handshake (no session reuse),
 *   one 1-byte echo (so the server has finished its side too), then a close with RST (SO_LINGER
 *   0, so thousands of connections leave no TIME_WAIT behind), and again. Reports handshakes
 *   per second and the latency of each (connect to echo).
 *
 * The client does not verify the server's certificate (the cost measured is the server's).
 * Prints one JSON line.
 *
 * Usage: tlsloadgen [-H] [-h host] [-p port] [-c conns] [-s size] [-t seconds] [-w warmup]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, HANDSHAKE, SENDING, RECEIVING };

struct conn {
  int fd;
  SSL *ssl;
  enum state state;
  size_t sent, received;
  uint64_t started; /* the current message's (or handshake's) start, ns */
  uint32_t seq;
};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep, handshake_mode;
static size_t size = 64;
static unsigned char *out, *in;
static uint64_t measure_from, end_at, done_count, mismatches;
static uint32_t *lat;
static size_t lat_n, lat_cap = 1u << 20;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "tlsloadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void die_ssl(const char *what) {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  fprintf(stderr, "tlsloadgen: %s: %s\n", what, buf);
  exit(2);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The byte at offset i of message seq: varies with both, so a misplaced or stale byte is caught. */
static inline unsigned char pattern(uint32_t seq, size_t i) {
  return (unsigned char)((i * 31u + seq * 7u) & 0xff);
}

static void record(uint64_t started) {
  uint64_t t = now_ns();
  if (t < measure_from || t >= end_at) return;
  done_count++;
  if (lat_n == lat_cap) {
    lat_cap *= 2;
    lat = realloc(lat, lat_cap * sizeof(*lat));
    if (!lat) die("realloc");
  }
  uint64_t us = (t - started) / 1000u;
  lat[lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Opens the connection's socket and starts connecting; the handshake follows when writable. */
static void open_conn(struct conn *c, uint32_t index) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) die("TCP_NODELAY");
  if (handshake_mode) {
    struct linger lg = {1, 0};
    if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0) die("SO_LINGER");
  }
  c->ssl = SSL_new(ctx);
  if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) die_ssl("SSL_new");
  SSL_set_connect_state(c->ssl);
  c->state = CONNECTING;
  c->sent = c->received = 0;
  c->started = now_ns();
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) die("connect");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = index};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
}

static void close_conn(struct conn *c) {
  SSL_free(c->ssl);
  close(c->fd);
  c->ssl = NULL;
  c->fd = -1;
}

/* Moves a connection on until it would block (edge-triggered: everything possible is done). */
static void drive(struct conn *c, uint32_t index) {
  size_t burst = handshake_mode ? 1 : size;
  for (;;) {
    switch (c->state) {
      case CONNECTING: {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) die("getsockopt");
        if (err == EINPROGRESS || err == EALREADY) return;
        if (err != 0) {
          errno = err;
          die("connect");
        }
        c->state = HANDSHAKE;
        continue;
      }
      case HANDSHAKE: {
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          c->state = SENDING;
          continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        if (e == SSL_ERROR_SYSCALL && errno == ENOTCONN) return; /* still connecting */
        die_ssl("handshake");
      }
      /* fallthrough: unreachable */
      case SENDING: {
        if (c->sent == 0) {
          for (size_t i = 0; i < burst; i++) out[i] = pattern(c->seq, i);
          if (!handshake_mode) c->started = now_ns();
        }
        int r = SSL_write(c->ssl, out + c->sent, (int)(burst - c->sent));
        if (r > 0) {
          c->sent += (size_t)r;
          if (c->sent == burst) c->state = RECEIVING;
          continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        die_ssl("write");
      }
      /* fallthrough: unreachable */
      case RECEIVING: {
        size_t want = burst - c->received;
        int r = SSL_read(c->ssl, in, (int)(want < 65536 ? want : 65536));
        if (r > 0) {
          for (int i = 0; i < r; i++)
            if (in[i] != pattern(c->seq, c->received + (size_t)i)) mismatches++;
          c->received += (size_t)r;
          if (c->received < burst) continue;
          record(c->started);
          c->seq++;
          if (handshake_mode) {
            close_conn(c);
            open_conn(c, index);
            continue;
          }
          c->sent = c->received = 0;
          c->state = SENDING;
          continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
        if (e == SSL_ERROR_ZERO_RETURN) {
          fprintf(stderr, "tlsloadgen: the server closed a connection\n");
          exit(1);
        }
        die_ssl("read");
      }
    }
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, conns = 50, seconds = 5, warmup = 1, opt;
  while ((opt = getopt(argc, argv, "Hh:p:c:s:t:w:")) != -1) {
    switch (opt) {
      case 'H': handshake_mode = 1; break;
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': conns = atoi(optarg); break;
      case 's': size = (size_t)strtoul(optarg, NULL, 10); break;
      case 't': seconds = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      default:
        fprintf(stderr, "usage: tlsloadgen [-H] [-h host] [-p port] [-c conns] [-s size] [-t seconds] [-w warmup]\n");
        return 2;
    }
  }
  if (port <= 0 || conns <= 0 || size == 0 || seconds <= 0) {
    fprintf(stderr, "tlsloadgen: need a port, and positive conns, size, seconds\n");
    return 2;
  }
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "tlsloadgen: %s is not an IPv4 address\n", host);
    return 2;
  }

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die_ssl("SSL_CTX_new");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  /* Every handshake is a full one: no session is kept to resume. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  out = malloc(size);
  in = malloc(65536);
  lat = malloc(lat_cap * sizeof(*lat));
  struct conn *cs = calloc((size_t)conns, sizeof(*cs));
  if (!out || !in || !lat || !cs) die("malloc");

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  uint64_t t0 = now_ns();
  measure_from = t0 + (uint64_t)warmup * 1000000000u;
  end_at = measure_from + (uint64_t)seconds * 1000000000u;
  for (int i = 0; i < conns; i++) open_conn(&cs[i], (uint32_t)i);

  struct epoll_event evs[256];
  while (now_ns() < end_at) {
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      uint32_t i = evs[k].data.u32;
      if ((evs[k].events & (EPOLLERR | EPOLLHUP)) && cs[i].state != CONNECTING) {
        fprintf(stderr, "tlsloadgen: connection %u failed or was closed by the server\n", i);
        return 1;
      }
      drive(&cs[i], i);
    }
  }
  qsort(lat, lat_n, sizeof(*lat), cmp_u32);
  uint32_t p50 = lat_n ? lat[lat_n / 2] : 0, p99 = lat_n ? lat[(lat_n * 99) / 100] : 0;
  printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"seconds\":%d,\"count\":%llu,\"per_sec\":%.0f,"
         "\"p50_us\":%u,\"p99_us\":%u,\"mismatches\":%llu}\n",
         handshake_mode ? "handshake" : "echo", conns, handshake_mode ? (size_t)1 : size, seconds,
         (unsigned long long)done_count, (double)done_count / (double)seconds, p50, p99,
         (unsigned long long)mismatches);
  for (int i = 0; i < conns; i++)
    if (cs[i].ssl) close_conn(&cs[i]);
  SSL_CTX_free(ctx);
  close(ep);
  free(out);
  free(in);
  free(lat);
  free(cs);
  return mismatches ? 1 : 0;
}

// The C load generator for agent benchmarks (closed loop, one epoll thread), so that neither server is measured
// through a slower client:
//   lean_load pipelined HOST PORT CONNECTIONS DEPTH SECONDS   each connection keeps DEPTH "ESC PING CR" in flight
//   lean_load connect   HOST PORT SLOTS SECONDS               SLOTS at once: connect, one PING, read to NUL, close
// Connections come from 127.0.9.1-250 (IP_BIND_ADDRESS_NO_PORT) so per-source limits and ports do not interfere.
// Prints one JSON line: replies, failures, seconds, replies_per_s, p50_ms, p99_ms.
//   gcc -O2 -o /tmp/lean_load Benchmarks/ceiling/lean_load.c
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
enum { MAX_DEPTH = 256, SAMPLES = 1 << 20 };
struct conn { int fd; int head, tail; long long sent[MAX_DEPTH]; };
static struct sockaddr_in target;
static long long samples[SAMPLES]; static long nsamples, replies, failures, source;
static const char frame[] = "\x1bPING\r";

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int cmp(const void *a, const void *b) { long long x = *(long long *)a, y = *(long long *)b; return x < y ? -1 : x > y; }
static void record(long long ns) { replies++; if ((replies & 15) == 0 && nsamples < SAMPLES) samples[nsamples++] = ns; }

static int open_conn(int ep, struct conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in s = {0}; s.sin_family = AF_INET; s.sin_addr.s_addr = htonl(0x7f000900u + 1 + (source++ % 250));
  bind(fd, (struct sockaddr *)&s, sizeof s);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) && errno != EINPROGRESS) { close(fd); return -1; }
  c->fd = fd; c->head = c->tail = 0;
  struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c}; epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  return 0;
}

int main(int argc, char **argv) {
  int pipelined = argc == 7 && !strcmp(argv[1], "pipelined"), per_command = argc == 6 && !strcmp(argv[1], "connect");
  if (!pipelined && !per_command) { fprintf(stderr, "usage: lean_load pipelined HOST PORT CONNS DEPTH SECONDS | connect HOST PORT SLOTS SECONDS\n"); return 64; }
  struct rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile); nofile.rlim_cur = nofile.rlim_max; setrlimit(RLIMIT_NOFILE, &nofile);
  target.sin_family = AF_INET; target.sin_port = htons(atoi(argv[3])); inet_aton(argv[2], &target.sin_addr);
  int n = atoi(argv[4]), depth = pipelined ? atoi(argv[5]) : 1; double seconds = atof(argv[pipelined ? 6 : 5]);
  if (depth > MAX_DEPTH) depth = MAX_DEPTH;
  int ep = epoll_create1(0);
  struct conn *conns = calloc(n, sizeof *conns);
  for (int i = 0; i < n; i++) if (open_conn(ep, &conns[i])) failures++;
  long long start = now_ns(), end = start + (long long)(seconds * 1e9);
  struct epoll_event evs[256]; char buf[65536], burst[MAX_DEPTH * sizeof frame];
  for (int i = 0; i < depth; i++) memcpy(burst + i * (sizeof frame - 1), frame, sizeof frame - 1);
  while (now_ns() < end) {
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT) {  // connected: the first DEPTH frames in one write
        int err = 0; socklen_t l = sizeof err; getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { failures++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); if (per_command) open_conn(ep, c); continue; }
        long long t = now_ns();
        for (int j = 0; j < depth; j++) c->sent[c->tail++ % MAX_DEPTH] = t;
        write(c->fd, burst, depth * (sizeof frame - 1));
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c}; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        continue;
      }
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r < 0 && errno == EAGAIN) continue;
      int got = 0; long long t = now_ns();
      for (ssize_t j = 0; j < r; j++) if (buf[j] == 0) { record(t - c->sent[c->head++ % MAX_DEPTH]); got++; }
      if (r <= 0 || (per_command && got)) {  // the server closed, or this connection's one command is answered
        failures += r <= 0;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd);
        if (per_command && open_conn(ep, c)) failures++;
        continue;
      }
      if (per_command) continue;  // part of a reply
      for (int j = 0; j < got; j++) c->sent[c->tail++ % MAX_DEPTH] = t;  // one new frame per reply
      write(c->fd, burst, got * (sizeof frame - 1));
    }
  }
  double elapsed = (now_ns() - start) / 1e9;
  qsort(samples, nsamples, sizeof *samples, cmp);
  double p50 = nsamples ? samples[nsamples / 2] / 1e6 : 0, p99 = nsamples ? samples[(long)(nsamples * 0.99)] / 1e6 : 0;
  printf("{\"replies\": %ld, \"failures\": %ld, \"seconds\": %.2f, \"replies_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
         replies, failures, elapsed, replies / elapsed, p50, p99);
  return 0;
}

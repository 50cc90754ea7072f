// The C yardstick for `fleetcmd agent`: the leanest server for the same protocol (C, one epoll thread, level
// triggered): every frame ESC ... CR on a connection is answered "PONG" NUL, in order; a peer's FIN closes.
// No routing, no limits, no logging: what the machine can do, to tell the agent's cost from the kernel's.
//   gcc -O2 -o /tmp/lean_server Benchmarks/ceiling/lean_server.c
//   /tmp/lean_server 127.0.0.1 19400          # prints "listening" when ready
//   /tmp/lean_server 127.80.0.1 19500 10000   # a fleet: one listener on each of 10,000 consecutive addresses
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
#include <unistd.h>

enum { OUT_MAX = 1 << 16 };
struct conn { int fd; int pending; size_t out_len; char out[]; };  // pending: frames counted but not yet answered; -1: a listener

static void drop(int ep, struct conn *c) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); free(c); }

// Writes what is queued; returns 0 when the connection must go.
static int flush_out(int ep, struct conn *c) {
  while (c->pending > 0 && c->out_len + 5 <= OUT_MAX) { memcpy(c->out + c->out_len, "PONG", 5); c->out_len += 5; c->pending--; }
  if (c->out_len == 0) return 1;
  ssize_t w = write(c->fd, c->out, c->out_len);
  if (w < 0) { if (errno != EAGAIN) return 0; w = 0; }
  memmove(c->out, c->out + w, c->out_len - w); c->out_len -= w;
  struct epoll_event e = {.events = EPOLLIN | (c->out_len || c->pending ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: lean_server ADDRESS PORT [COUNT]\n"); return 64; }
  struct rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile); nofile.rlim_cur = nofile.rlim_max; setrlimit(RLIMIT_NOFILE, &nofile);
  int count = argc > 3 ? atoi(argv[3]) : 1, one = 1;
  int ep = epoll_create1(0);
  struct in_addr first; inet_aton(argv[1], &first);
  for (int n = 0; n < count; n++) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // accepted sockets inherit it
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[2]));
    a.sin_addr.s_addr = htonl(ntohl(first.s_addr) + n);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
    struct conn *l = malloc(sizeof *l); l->fd = ls; l->pending = -1; l->out_len = 0;
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = l}; epoll_ctl(ep, EPOLL_CTL_ADD, ls, &le);
  }
  printf("listening\n"); fflush(stdout);
  struct epoll_event evs[256];
  char buf[65536];
  for (;;) {
    int k = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < k; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c->pending < 0) {
        int fd;
        while ((fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct conn *n = malloc(sizeof *n + OUT_MAX); n->fd = fd; n->pending = 0; n->out_len = 0;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = n}; epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (evs[i].events & EPOLLIN) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EAGAIN)) { drop(ep, c); continue; }
        for (ssize_t j = 0; j < r; j++) if (buf[j] == '\r') c->pending++;
      }
      if (!flush_out(ep, c)) drop(ep, c);
    }
  }
}

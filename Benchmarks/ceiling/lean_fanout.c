// The ceiling for a fleet-run client on this machine: the leanest possible fan-out (C, one epoll thread, no
// framing library, no timeouts, no error classes), to tell the client's cost from the simulator's.
//   gcc -O2 -o /tmp/lean_fanout Benchmarks/ceiling/lean_fanout.c
//   /tmp/lean_fanout 127.81.0.0 10000 19500 1000     # against fleetcmd simulate --addresses 127.81.0.0/16 --port 19500
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
// lean BASE N PORT WINDOW: connect, write ESC PING CR, shutdown(WR), read to NUL, close.
int main(int argc, char **argv) {
  struct in_addr base; inet_aton(argv[1], &base);
  int n = atoi(argv[2]), port = atoi(argv[3]), window = atoi(argv[4]);
  int ep = epoll_create1(0);
  int next = 0, done = 0, ok = 0, inflight = 0;
  const char frame[] = "\x1bPING\r";
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  struct epoll_event evs[256];
  while (done < n) {
    while (inflight < window && next < n) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(ntohl(base.s_addr) + 1 + next);
      connect(fd, (struct sockaddr *)&a, sizeof a);
      struct epoll_event e = {.events = EPOLLOUT, .data.fd = fd};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
      next++; inflight++;
    }
    int k = epoll_wait(ep, evs, 256, 1000);
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      if (evs[i].events & EPOLLOUT) {
        int err = 0; socklen_t l = sizeof err; getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { close(fd); done++; inflight--; continue; }
        write(fd, frame, sizeof frame - 1); shutdown(fd, SHUT_WR);
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd}; epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
      } else {
        char buf[1024]; ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0 && memchr(buf, 0, r)) ok++;
        if (r == -1 && errno == EAGAIN) continue;
        close(fd); done++; inflight--;
      }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%d ok of %d in %.3f s: %.0f/s\n", ok, n, s, n / s);
}

// The ceiling for a one-shot send on this machine: the article's client in C, nothing else (no options, no
// timeouts, no error classes). What `fleetcmd send HOST:PORT CMD` is measured against (scripts/bench-start.py).
//   gcc -O2 -o /tmp/lean_send Benchmarks/ceiling/lean_send.c
//   /tmp/lean_send 127.0.0.1 9100 PING      # connect, ESC PING CR, half-close, read to NUL or EOF, print, exit
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: lean_send HOST PORT COMMAND\n"); return 64; }
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 64; }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    fprintf(stderr, "Failed to connect to device %s\n", argv[1]);
    return 1;
  }
  char frame[1024];
  int length = snprintf(frame, sizeof frame, "\x1b%s\r", argv[3]);
  if (write(fd, frame, length) != length) { fprintf(stderr, "Failed to communicate with device %s\n", argv[1]); return 1; }
  shutdown(fd, SHUT_WR);
  char reply[4096];
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, reply + have, sizeof reply - 1 - have);
    if (r <= 0) break;
    have += r;
    if (memchr(reply, 0, have) || have == sizeof reply - 1) break;
  }
  reply[have] = 0;  // what stands before the first NUL
  size_t end = strlen(reply);
  while (end > 0 && (reply[end - 1] == ' ' || reply[end - 1] == '\r' || reply[end - 1] == '\n')) end--;
  printf("%.*s\n", (int)end, reply);
  close(fd);
  return 0;
}

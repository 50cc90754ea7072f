// The Linux socket APIs the runner's lean fan-out path needs that Glibc's Swift module does not export.
#ifndef C_FLEET_SOCKETS_H
#define C_FLEET_SOCKETS_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

/// Marks the calling thread as the lean loop woken by `wake` (an eventfd), or no loop's with -1.
void cfleet_set_current_loop(int wake);
/// The `wake` descriptor of the lean loop running on the calling thread, or -1: a thread-local read, which the
/// runner does per device (Foundation's thread dictionary cost a dictionary lookup and a dynamic cast).
int cfleet_current_loop(void);

#endif

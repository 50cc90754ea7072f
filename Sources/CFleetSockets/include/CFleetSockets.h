// The Linux socket APIs the runner's lean fan-out path needs that Glibc's Swift module does not export.
#ifndef C_FLEET_SOCKETS_H
#define C_FLEET_SOCKETS_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

#endif

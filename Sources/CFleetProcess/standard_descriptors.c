// Standard input, output and error closed when fleetcmd starts (`fleetcmd send HOST PING >&-`).
//
// A closed descriptor 0, 1 or 2 is the next one the process opens: the concurrency runtime's or an event loop's
// eventfd, a journal, a device's socket, and output meant for stdout would be written there. Each closed one is
// taken, in a constructor (before the Swift runtime, Dispatch or NIO open anything; Swift's main runs too late),
// by /dev/null opened the other way round: read-only for stdout and stderr, write-only for stdin. The descriptor
// can no longer be handed out, and it still behaves as closed: a write to it fails with EBADF, which FleetCLI
// reports as lost output (exit 74), never as success.
//
// It also notes whether SIGPIPE was ignored at start: NIO ignores it for the whole process once it opens a socket,
// and a pipeline whose reader leaves early (`fleetcmd … | head -1`) should end fleetcmd as it ends any program.
#include "CFleetProcess.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int sigpipe_was_ignored = 0;

__attribute__((constructor)) static void cfleet_reopen_closed_standard_descriptors(void) {
  struct sigaction pipe_action;
  if (sigaction(SIGPIPE, NULL, &pipe_action) == 0) sigpipe_was_ignored = pipe_action.sa_handler == SIG_IGN;
  for (int descriptor = 0; descriptor <= 2; descriptor++) {
    if (fcntl(descriptor, F_GETFD) != -1 || errno != EBADF) continue;
    int opened = open("/dev/null", descriptor == 0 ? O_WRONLY : O_RDONLY);
    if (opened >= 0 && opened != descriptor) {
      dup2(opened, descriptor);
      close(opened);
    }
  }
}

int cfleet_sigpipe_was_ignored(void) { return sigpipe_was_ignored; }

void cfleet_die_of_sigpipe(void) {
  signal(SIGPIPE, SIG_DFL);
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
  raise(SIGPIPE);
}

int cfleet_flush_stdout(void) { return fflush(stdout) == 0 ? 0 : errno; }

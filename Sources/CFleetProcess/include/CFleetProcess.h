#ifndef CFLEET_PROCESS_H
#define CFLEET_PROCESS_H

/// 1 when standard output was closed as the process started (it is now /dev/null); 0 otherwise.
int cfleet_stdout_was_closed(void);

/// 1 when SIGPIPE was ignored as the process started (the parent's choice, inherited); 0 when it had its default
/// action. NIO ignores SIGPIPE for the whole process once it opens a socket, so only this tells the two apart.
int cfleet_sigpipe_was_ignored(void);

/// Ends the process as an unignored SIGPIPE would (a pipe's reader left: `fleetcmd … | head -1`).
void cfleet_die_of_sigpipe(void);

#endif

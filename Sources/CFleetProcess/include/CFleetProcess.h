#ifndef CFLEET_PROCESS_H
#define CFLEET_PROCESS_H

/// 1 when SIGPIPE was ignored as the process started (the parent's choice, inherited); 0 when it had its default
/// action. NIO ignores SIGPIPE for the whole process once it opens a socket, so only this tells the two apart.
int cfleet_sigpipe_was_ignored(void);

/// Writes what the C library holds for stdout (`print`); 0, or `errno` of the failure.
int cfleet_flush_stdout(void);

/// Ends the process as an unignored SIGPIPE would (a pipe's reader left: `fleetcmd … | head -1`).
void cfleet_die_of_sigpipe(void);

#endif

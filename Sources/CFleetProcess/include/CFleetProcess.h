#ifndef CFLEET_PROCESS_H
#define CFLEET_PROCESS_H

/// 1 when standard output was closed as the process started (it is now /dev/null); 0 otherwise.
int cfleet_stdout_was_closed(void);

#endif

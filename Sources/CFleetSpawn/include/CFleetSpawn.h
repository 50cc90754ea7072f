#ifndef CFLEET_SPAWN_H
#define CFLEET_SPAWN_H

#include <sys/types.h>

/// Starts the program at `path` with `argv` (NULL-terminated) and `envp` (NULL-terminated; NULL: this process's
/// environment), in `directory` (NULL: this process's), with `input`, `output` and `error` as its descriptors 0, 1
/// and 2 (-1: /dev/null). Every other descriptor is closed in the child, every signal is at its default action and
/// unblocked, and the child leads a process group of its own (a Ctrl-C at the terminal is the parent's to pass on).
///
/// posix_spawn, not Foundation's Process: Process.run reads /proc/self/fd in a way that crashes the calling
/// process now and then (swift-corelibs-foundation #5472), and changes the whole process's working directory
/// while it starts a child.
///
/// Returns 0 and the child's pid in `*pid`, or the errno of the failure (ENOENT, EACCES, ENOEXEC…).
int cfleet_spawn(const char *path, char *const argv[], char *const envp[], const char *directory, int input,
                 int output, int error, pid_t *pid);

#endif

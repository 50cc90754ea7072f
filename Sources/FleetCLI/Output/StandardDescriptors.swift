import CFleetProcess

/// Standard input, output and error that were closed when the process started (`fleetcmd send … >&-`): a
/// constructor in `CFleetProcess` opens each on /dev/null before anything else opens a descriptor, so that output
/// meant for stdout never lands in an eventfd, a journal or a device's socket. Output meant for a closed stdout
/// counts as a failed write (``OutputFailure``: "Bad file descriptor" at exit, status 74), not as success.
enum StandardDescriptors {
    static let isOutputClosed = cfleet_stdout_was_closed() != 0
}

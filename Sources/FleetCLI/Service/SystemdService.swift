import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The agent's side of systemd's `Type=notify`: `STOPPING=1` when a graceful shutdown begins, and `WATCHDOG=1`
/// every half of `$WATCHDOG_USEC`, sent only after an event loop answered (a wedged loop stops the pings, so
/// systemd restarts the agent). `READY=1` and `RELOADING=1` are sent where those happen (the listening callback,
/// the SIGHUP reload).
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let watchdog: Duration?
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            if let watchdog {
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await Task.sleep(for: watchdog)
                            // The event loops must still run tasks: a ping proves it, not just this task.
                            try await MultiThreadedEventLoopGroup.singleton.next().submit {}.get()
                        } catch {
                            return
                        }
                        notifier.notify(["WATCHDOG=1"])
                    }
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                notifier.notify(["STOPPING=1", "STATUS=stopping: finishing commands in flight"])
                logger.debug("systemd notified: STOPPING=1")
            }
            await group.next()  // the shutdown task ends first; the watchdog stops with it
            group.cancelAll()
        }
    }
}

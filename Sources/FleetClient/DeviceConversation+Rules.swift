import FleetCodec
import FleetFraming
import NIOCore

// The rules behind DeviceConversation's events: the session, writing commands, scanning replies, the end of the
// stream, deadlines, and every error text a conversation can end with.

extension DeviceConversation {
    // MARK: - The session

    /// The transport is ready: start the device's session (or the commands, when it has none).
    mutating func openSession(now: Instant, _ output: inout Output) {
        guard opener.phase == .idle, !isClosed else { return }
        replyDeadline = now + configuration.timeouts.reply  // bounds the whole opening: handshake and greeting
        handle(opener.start(), now: now, &output)
    }

    /// Consumes handshake and greeting bytes from `received`; what follows stays there for the replies.
    mutating func advanceSession(now: Instant, _ output: inout Output) {
        guard var buffer = received else { return }
        let step = opener.consume(&buffer)
        received = buffer.readableBytes > 0 ? buffer : nil
        handle(step, now: now, &output)
    }

    private mutating func handle(_ step: SessionOpener.Step, now: Instant, _ output: inout Output) {
        switch step {
        case .send(let bytes):
            output.write += bytes
            if received != nil { advanceSession(now: now, &output) }
        case .needMore:
            break
        case .open(let prefix):
            firstCommandPrefix = prefix
            replyDeadline = nil
            if let action = machine?.connected() {
                perform(action, now: now, &output)
            } else {
                output.notice = .opened
            }
        case .refused(let detail):
            fail(DeviceError(code: .sessionRefused, device: device, detail: detail), now: now, &output)
        case .awaitQuiet(let quiet):
            greetingDeadline = now + quiet
        }
    }

    /// The device has been quiet since its last greeting line: the session is open.
    private mutating func greetingEnded(now: Instant, _ output: inout Output) {
        greetingDeadline = nil
        handle(opener.quietPassed(), now: now, &output)
        if opener.phase == .open, received != nil, !isClosed { scanReplies(now: now, &output) }
    }

    // MARK: - Commands and replies (one-shot)

    private mutating func perform(_ action: ExchangeStateMachine.Action, now: Instant, _ output: inout Output) {
        switch action {
        case .write(let range, let halfClose), .writeAndComplete(let range, let halfClose):
            var bytes: [UInt8] = range.lowerBound == 0 ? configuration.session.jobStart : []
            do {
                for index in range {
                    let command =
                        index == 0 && !firstCommandPrefix.isEmpty ? firstCommandPrefix + commands[0] : commands[index]
                    try configuration.format.request.encode(command, into: &bytes)
                }
            } catch {
                fail(
                    DeviceError(
                        code: .ioError, device: device, detail: "cannot frame command: \(error)",
                        mayHaveDelivered: range.lowerBound > 0),
                    now: now, &output)
                return
            }
            if range.upperBound == commands.count { bytes += configuration.session.jobEnd }
            for index in range { writtenAt[index] = now }
            writtenCount = range.upperBound
            if output.write.isEmpty { output.write = bytes } else { output.write += bytes }
            output.halfClose = halfClose
            if case .writeAndComplete = action {
                finish(error: nil, now: now, &output)
            } else {
                replyDeadline = now + configuration.timeouts.reply
            }
        case .awaitNextReply:
            replyDeadline = now + configuration.timeouts.reply
        case .complete:
            finish(error: nil, now: now, &output)
        case .none:
            break
        }
    }

    /// Takes every complete reply out of `received`.
    mutating func scanReplies(now: Instant, _ output: inout Output) {
        while !isClosed, received != nil {
            let scanned: ScannedFrame
            do {
                scanned = try received!.readFrame(using: &scanner)  // non-nil: the loop's condition
            } catch {
                let tooLarge = DeviceError(
                    code: .tooLarge, device: device,
                    detail: "reply exceeds \(ByteCount.format(configuration.maxReplyBytes))")
                if isInteractive {
                    received = nil
                    scanner.reset()
                    replyFailed(tooLarge, &output)
                } else {
                    fail(tooLarge, now: now, &output)
                }
                return
            }
            if received?.readableBytes == 0 { received = nil }
            guard let payload = scanned.payload, let frame = scanned.frame else { return }
            deliver(payload: payload, frame: frame, now: now, &output)
        }
    }

    private mutating func deliver(payload: ByteBuffer, frame: ByteBuffer, now: Instant, _ output: inout Output) {
        let isFirstReply = isInteractive ? interactiveReplies == 0 : replies.isEmpty
        if isFirstReply, opener.isLoginRefusal(payload) {
            // The projector refused the login digest: no command was run.
            var refused = DeviceError(code: .sessionRefused, device: device, detail: SessionOpener.loginRefused)
            refused.isLoginRefusal = true
            if isInteractive { replyFailed(refused, &output) } else { fail(refused, now: now, &output) }
            return
        }
        if isInteractive, pendingSince == nil {
            // No command waits: the device pushed it (an event, a greeting line); shown as it arrives.
            output.unsolicited.append(
                Reply(payload: Array(payload.readableBytesView), frame: Array(frame.readableBytesView), elapsed: .zero))
            return
        }
        if isInteractive {
            let sentAt = pendingSince ?? now
            replyDeadline = nil
            pendingSince = nil
            interactiveReplies += 1
            output.notice = .reply(
                Reply(
                    payload: Array(payload.readableBytesView), frame: Array(frame.readableBytesView),
                    elapsed: now - sentAt))
            return
        }
        let stop = configuration.stopAfterReply.map { $0(Array(payload.readableBytesView)) } ?? false
        guard let (index, action) = machine?.replyReceived(stop: stop), let index else { return }
        appendAbsentReplies(upTo: index)
        replies.append(
            Reply(
                payload: Array(payload.readableBytesView), frame: Array(frame.readableBytesView),
                elapsed: now - writtenAt[index]))
        replyDeadline = nil
        idleDeadline = nil
        perform(action, now: now, &output)
    }

    /// A reply that ends at close has gone quiet (or the device closed): everything received so far is the reply.
    private mutating func completeIdleReply(now: Instant, atEnd: Bool = false, _ output: inout Output) {
        guard !isClosed, var buffer = received, buffer.readableBytes > 0 else { return }
        received = nil
        if !atEnd { scanner.reset() }
        if let scanned = try? buffer.readLastFrame(using: &scanner), let payload = scanned.payload,
            let frame = scanned.frame
        {
            deliver(payload: payload, frame: frame, now: now, &output)
        }
    }

    // MARK: - Ending

    mutating func endOfStream(now: Instant, _ output: inout Output) {
        guard !isClosed else { return }
        if isInteractive {
            fail(
                DeviceError(code: .closedEarly, device: device, detail: "the device closed the connection"), now: now,
                &output)
            return
        }
        if opener.phase == .settling {
            // The greeting was complete; the device closed before a command could be sent.
            greetingDeadline = nil
        }
        if opener.phase == .handshake || opener.phase == .greeting || opener.phase == .settling {
            let phase = opener.phase == .handshake ? "handshake" : "greeting"
            fail(
                DeviceError(
                    code: .sessionRefused, device: device, detail: "closed during the \(phase) (no command was sent)"),
                now: now, &output)
            return
        }
        if configuration.format.reply.endsAtClose, received != nil {
            completeIdleReply(now: now, atEnd: true, &output)
            if isClosed { return }
        }
        let got = received?.readableBytes ?? 0
        let awaited = machine?.awaitedReply ?? 0
        let what =
            got == 0
            ? (awaited == 0 ? "closed without replying" : "closed after \(awaited) of \(commands.count) replies")
            : "closed before the reply was complete (got \(got) \(got == 1 ? "byte" : "bytes"), \(missingEnd))"
        fail(DeviceError(code: .closedEarly, device: device, detail: what), now: now, &output)
    }

    /// The conversation cannot go on: a one-shot one finishes with `error`; an interactive one is closed, and the
    /// opening or the command waiting for its reply fails with it.
    mutating func fail(_ error: DeviceError, now: Instant, _ output: inout Output) {
        guard isInteractive else {
            finish(error: error, now: now, &output)
            return
        }
        guard closedError == nil else { return }
        closedError = error
        replyDeadline = nil
        if opener.phase != .open {
            output.notice = .openFailed(error)
        } else if pendingSince != nil {
            replyFailed(error, &output)
        } else {
            output.notice = .closed(error)
        }
        output.close = true
    }

    /// Interactive: the command waiting for its reply gets none; the connection stays as it is.
    private mutating func replyFailed(_ error: DeviceError, _ output: inout Output) {
        replyDeadline = nil
        pendingSince = nil
        output.notice = .replyFailed(error)
    }

    /// Puts ``Reply/absent`` in the place of every command before `index` that gets no reply (the commands that
    /// do were answered before, in order).
    private mutating func appendAbsentReplies(upTo index: Int) {
        guard let machine else { return }
        let limit = min(index, writtenCount)
        while replies.count < limit, !machine.expectsReply[replies.count] { replies.append(.absent) }
    }

    private mutating func finish(error: DeviceError?, now: Instant, _ output: inout Output) {
        guard !isFinished else { return }
        isFinished = true
        if error == nil {
            appendAbsentReplies(upTo: commands.count)
        } else if let awaited = machine?.awaitedReply {
            appendAbsentReplies(upTo: awaited)  // written before the reply that did not come
        }
        _ = machine?.finish()
        connectDeadline = nil
        replyDeadline = nil
        idleDeadline = nil
        output.finished = Exchange(
            device: device,
            commandCount: commands.count,
            replies: replies,
            error: error,
            connectDuration: connectedAt.map { $0 - startedAt },
            totalDuration: now - startedAt,
            // After a failure the buffered bytes are the cut-off reply (reported in the error), not leftover.
            leftoverBytes: error == nil ? received?.readableBytes ?? 0 : 0,
            greeting: opener.greeting
        )
        received = nil
        output.close = true
    }

    // MARK: - Deadlines

    mutating func fireDeadline(_ due: Instant, now: Instant, _ output: inout Output) {
        let timeouts = configuration.timeouts
        if due == totalDeadline, let total = timeouts.total {
            if connectedAt == nil {
                fail(
                    DeviceError(
                        code: .connectTimeout, device: device, detail: "timed out after \(DurationText.format(total))"),
                    now: now, &output)
            } else {
                fail(
                    DeviceError(
                        code: .replyTimeout, device: device,
                        detail: "total timeout of \(DurationText.format(total)) expired\(progressNote)"),
                    now: now, &output)
            }
        } else if due == connectDeadline {
            connectDeadline = nil
            fail(
                DeviceError(
                    code: .connectTimeout, device: device,
                    detail: "timed out after \(DurationText.format(effectiveConnectTimeout))"),
                now: now, &output)
        } else if due == replyDeadline {
            replyDeadline = nil
            replyTimedOut(now: now, &output)
        } else if due == idleDeadline {
            idleDeadline = nil
            completeIdleReply(now: now, &output)
        } else if due == greetingDeadline {
            greetingEnded(now: now, &output)
        }
    }

    private mutating func replyTimedOut(now: Instant, _ output: inout Output) {
        let reply = DurationText.format(configuration.timeouts.reply)
        if isInteractive {
            if opener.phase != .open {
                fail(
                    DeviceError(
                        code: .replyTimeout, device: device, detail: "timed out after \(reply) waiting for the session"),
                    now: now, &output)
            } else if pendingSince != nil {
                replyFailed(
                    DeviceError(
                        code: .replyTimeout, device: device, detail: "timed out after \(reply) waiting for a reply"),
                    &output)
            }
            return
        }
        if configuration.format.reply.endsAtClose, let buffer = received, buffer.readableBytes > 0 {
            completeIdleReply(now: now, &output)
            return
        }
        fail(
            DeviceError(
                code: .replyTimeout, device: device,
                detail: "timed out after \(reply) waiting for a reply\(progressNote)"),
            now: now, &output)
    }

    // MARK: - Texts

    /// What a cut-off reply lacked: `no NUL`, `expected 12 bytes`.
    private var missingEnd: String {
        let spec = configuration.format.reply
        if let terminator = spec.terminator {
            return "no \(FrameSpec.delimited(terminator: terminator).endDescription)"
        }
        return "expected \(spec.endDescription)"
    }

    /// ` (got 1 of 3 replies; 4 bytes of a partial reply, no NUL)`, or nothing.
    private var progressNote: String {
        var parts: [String] = []
        if commands.count > 1 { parts.append("got \(replies.count) of \(commands.count) replies") }
        if let pending = received?.readableBytes, pending > 0 {
            parts.append("\(pending) bytes of a partial reply, \(missingEnd)")
        }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
    }
}

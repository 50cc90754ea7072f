import FleetAgent
import FleetFraming
import NIOCore

/// The simulator's faults as the agent's ``AgentConnectionHooks``: listener `i` is device `first + i`. Connections
/// are admitted as the device's fault says (a single-session device turns a second one away; a never-read device
/// parks it), and every served connection gets a ``FaultHandler`` that counts frames and replies in the ledger and
/// carries out the device's fault on its replies.
enum FaultHooks {
    static func make(
        plan: FaultPlan, ledger: DeviceLedger, layout: FleetLayout, first: Int, reply: FrameSpec
    )
        -> AgentConnectionHooks
    {
        var hooks = AgentConnectionHooks()
        hooks.admit = { channel, listener in
            let open = ledger.opened(listener)
            channel.closeFuture.whenComplete { _ in ledger.closed(listener) }
            switch plan.fault(ofLocal: listener) {
            case .singleSession where open > 1: return .close
            case .neverRead: return .neverRead
            default: return .serve
            }
        }
        hooks.addHandlers = { pipeline, listener in
            try pipeline.addHandler(
                FaultHandler(fault: plan.fault(ofLocal: listener), ledger: ledger, device: listener, reply: reply))
        }
        hooks.variables = { listener in
            ["device": layout.name(first + listener), "index": String(first + listener)]
        }
        return hooks
    }
}

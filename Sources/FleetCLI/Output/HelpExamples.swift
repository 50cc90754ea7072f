import ArgumentParser

/// `--help` of every command ends with EXAMPLES (swift-argument-parser has no such section, so `fleetcmd` prints
/// the parser's help, then these). The man pages and completions come from the parser alone.
enum HelpExamples {
    /// Per command (its path below `fleetcmd`, like `tls pin`): command lines, some with a word on what they do.
    static let table: [String: [String]] = [
        "fleetcmd": [
            "fleetcmd demo                                   # a simulated fleet, no hardware needed",
            "fleetcmd send 10.0.0.7 STATUS                   # the seed article's job",
            "fleetcmd run -i hosts.ini --limit printers STATUS",
        ],
        "send": [
            "fleetcmd send 10.0.0.7 STATUS                   # ESC STATUS CR to port 9100, the reply up to NUL",
            "fleetcmd send 10.0.0.7:9100 STATUS VERSION -o json",
            "fleetcmd send printer-2 --preset hp-pjl '@PJL SET COPIES=2' '@PJL INFO ID'",
            "fleetcmd send -v switcher-1 --preset extron-sis Q '\\eCN'",
            "fleetcmd send 10.0.0.7 --raw-reply DUMP > reply.bin",
        ],
        "run": [
            "fleetcmd run -i hosts.ini STATUS                # every device, grouped replies",
            "fleetcmd run -i hosts.ini --limit 'printers:!lobby*' --forks 200 STATUS -o jsonl",
            "fleetcmd run -i hosts.ini --normalize 'uptime=(\\d+)s' STATUS",
            "fleetcmd run --resume RUN_ID                    # finish an interrupted run, sending nothing twice",
            "fleetcmd run -i hosts.ini --store postgres://fleet@db/fleet --detach STATUS   # for fleetcmd worker",
        ],
        "runs": ["fleetcmd runs", "fleetcmd runs show RUN_ID", "fleetcmd runs --store postgres://fleet@db/fleet"],
        "runs list": ["fleetcmd runs list", "fleetcmd runs list --store postgres://fleet@db/fleet -o json"],
        "runs show": [
            "fleetcmd runs show RUN_ID", "fleetcmd runs show RUN_ID --store postgres://fleet@db/fleet -o json",
        ],
        "runs watch": [
            "fleetcmd runs watch RUN_ID --store postgres://fleet@db/fleet            # until every device has an outcome",
            "FLEETCMD_STORE=postgres://fleet@db/fleet fleetcmd runs watch RUN_ID -o jsonl --interval 5",
        ],
        "worker": [
            "fleetcmd worker --store postgres://fleet@db.example/fleet",
            "FLEETCMD_STORE=postgres://fleet@db/fleet fleetcmd worker --site lyon --forks 500",
            "fleetcmd worker --store postgres://fleet@db/fleet --until-idle",
        ],
        "probe": [
            "fleetcmd probe 10.0.0.7 10.0.0.8:9100",
            "fleetcmd probe -i hosts.ini --limit printers -o jsonl",
            "cut -d, -f1 devices.csv | fleetcmd probe -",
        ],
        "listen": [
            "fleetcmd listen --port 9100 --reply 'OK ready'   # nc -vlp 9100, framing-aware",
            "fleetcmd listen --preset pjlink --password secret --once",
        ],
        "agent": [
            "fleetcmd agent --port 9100",
            "fleetcmd agent --config /etc/fleetcmd/agent.yaml --metrics 127.0.0.1:9464",
            "fleetcmd agent --config agent.yaml --check-config",
        ],
        "simulate": [
            "fleetcmd simulate --devices 1000 --inventory-out fleet.ini",
            "fleetcmd simulate --devices 50 --preset pjlink --password secret --fault refuse=0.1",
        ],
        "demo": ["fleetcmd demo", "fleetcmd demo --devices 5000"],
        "tls": ["fleetcmd tls init --agent 10.0.0.7 --client ops", "fleetcmd tls pin fleet-tls/agents/10.0.0.7.pem"],
        "tls init": ["fleetcmd tls init --agent 10.0.0.7 --client ops"],
        "tls pin": ["fleetcmd tls pin fleet-tls/agents/10.0.0.7.pem"],
        "presets": ["fleetcmd presets", "fleetcmd presets -o json", "fleetcmd presets --presets my-presets.yaml"],
        "shell": [
            "fleetcmd shell 10.0.0.7", "fleetcmd shell 10.0.9.4 --preset pjlink --password \"$PJLINK_PASSWORD\"",
        ],
        "watch": [
            "fleetcmd watch 10.0.0.7:5000 --preset kramer-p3000",
            "fleetcmd watch plc-3 --preset line -o jsonl --count 10",
        ],
        "inventory": [
            "fleetcmd inventory -i fleet.ini --graph",
            "fleetcmd inventory -i inventory/ --list --limit 'printers:!lab'",
            "diff <(fleetcmd inventory -i fleet.ini --list) <(ansible-inventory -i fleet.ini --list)",
        ],
        "config": ["fleetcmd config show", "FLEETCMD_CONFIG=team.yaml fleetcmd config show -o json"],
        "config show": ["fleetcmd config show", "fleetcmd config show -o json"],
    ]

    /// When `arguments` ask for help (`-h`, `--help`, or `help COMMAND`), the help text with EXAMPLES.
    static func helpRequested(_ arguments: [String]) -> String? {
        let options = arguments.prefix { $0 != "--" }
        var words = Array(options)
        if words.first == "help" {
            words.removeFirst()
        } else if !options.contains("--help"), !options.contains("-h") {
            return nil
        }
        var command: any ParsableCommand.Type = FleetCommand.self
        var path: [String] = []
        for word in words where !word.hasPrefix("-") {
            guard
                let next = command.configuration.subcommands.first(where: {
                    $0.configuration.commandName == word
                })
            else { break }
            command = next
            path.append(word)
        }
        let name = path.isEmpty ? "fleetcmd" : path.joined(separator: " ")
        var text = FleetCommand.helpMessage(for: command)
        if let examples = table[name] {
            if !text.hasSuffix("\n") { text += "\n" }
            text += "\nEXAMPLES:\n" + examples.map { "  " + $0 }.joined(separator: "\n")
        }
        return text
    }
}

#!/usr/bin/python
# -*- coding: utf-8 -*-
# The per-host module: a thin wrapper that runs the installed fleetcmd binary (nothing large is copied per host).
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: send
short_description: Send commands to one device over raw TCP with fleetcmd
description:
  - Connects to the device, sends every command in order over one connection (framed as the preset says), reads
    each reply to its terminator, and returns the replies and the outcome class.
  - "Runs the C(fleetcmd) binary on the controller; use C(connection: local) or C(delegate_to: localhost)."
  - In check mode nothing is sent; the module reports what would be sent.
version_added: "0.1.0"
options:
  host:
    description: Device address (IPv4, IPv6 or name).
    type: str
    required: true
  port:
    description: Device TCP port.
    type: int
    default: 9100
  commands:
    description: Commands to send, in order. C(\\x1b)-style escapes are understood.
    type: list
    elements: str
    required: true
  preset:
    description: Device preset (C(fleetcmd presets) lists them), e.g. C(esc-cr), C(hp-pjl), C(pjlink), C(line), C(fixed:N).
    type: str
    default: esc-cr
  connect_timeout:
    description: Limit for the connection, as C(500ms), C(5s).
    type: str
    default: 5s
  reply_timeout:
    description: Limit for each reply.
    type: str
    default: 10s
  half_close:
    description: When to half-close after sending.
    type: str
    choices: [auto, always, never]
    default: auto
  retries:
    description: Retries after failures that happened before anything was sent (refused, unreachable, connect timeout).
    type: int
    default: 2
  stop_on_error:
    description: Do not send later commands after the first error reply.
    type: bool
    default: false
  error_pattern:
    description: Regular expression that marks a reply as an error.
    type: str
    default: "^ERR"
extends_documentation_fragment:
  - fleetcmd.fleet.common
author:
  - fleetcmd maintainers (@fleetcmd)
"""

EXAMPLES = r"""
- name: Ask every printer for its status, the article's way
  fleetcmd.fleet.send:
    host: "{{ ansible_host | default(inventory_hostname) }}"
    port: "{{ fleetcmd_port | default(9100) }}"
    commands: [STATUS]
  delegate_to: localhost
  register: status
"""

RETURN = r"""
replies:
  description: Reply texts, in command order (fewer than the commands when the device failed).
  type: list
  elements: str
  returned: always
outcome:
  description: ok, error-reply, refused, unreachable, connect-timeout, reply-timeout, reset, closed-early, too-large,
    unknown; skipped in check mode.
  type: str
  returned: always
address:
  description: host:port.
  type: str
  returned: always
timings:
  description: connect_ms and total_ms.
  type: dict
  returned: when sent
would_send:
  description: The commands that would be sent (check mode).
  type: list
  elements: str
  returned: check mode
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetcmd.fleet.plugins.module_utils.fleetcmd import (
    COMMON_ARGUMENT_SPEC,
    common_flags,
    fleetcmd_binary,
    fleetcmd_environment,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            COMMON_ARGUMENT_SPEC,
            host=dict(type="str", required=True),
            port=dict(type="int", default=9100),
            half_close=dict(type="str", default="auto", choices=["auto", "always", "never"]),
            error_pattern=dict(type="str", default="^ERR"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host"]
    address = "[%s]:%d" % (host, p["port"]) if ":" in host else "%s:%d" % (host, p["port"])
    if module.check_mode:
        module.exit_json(changed=True, outcome="skipped", address=address, replies=[], would_send=p["commands"],
                         msg="check mode: would send %d command(s) to %s" % (len(p["commands"]), address))
    argv = [fleetcmd_binary(module), "run", "--no-journal", "-i", "-"] + common_flags(p)
    argv += ["--half-close", p["half_close"], "--error-pattern", p["error_pattern"], "--"] + p["commands"]
    rc, out, err = module.run_command(argv, data=address + "\n", binary_data=True, environ_update=fleetcmd_environment(p))
    try:
        result = json.loads(out)[0]
    except (ValueError, IndexError):
        module.fail_json(msg="fleetcmd failed (exit %d): %s" % (rc, err.strip()), rc=rc, outcome="unknown",
                         address=address, replies=[])
    outcome = result["outcome"]
    answer = dict(outcome=outcome, address=address, replies=result["replies"], timings=result.get("timings", {}),
                  attempts=result.get("attempts", 0), exit_status=rc)
    if outcome == "ok":
        module.exit_json(changed=True, msg="%s answered %d command(s)" % (address, len(result["replies"])), **answer)
    if outcome == "error-reply":
        errors = [r for r in result["replies"] if r.startswith("ERR")] or result["replies"]
        module.fail_json(changed=True, msg="device %s answered with an error: %s" % (address, errors[-1] if errors else ""), **answer)
    module.fail_json(changed=outcome not in ("refused", "unreachable", "connect-timeout"),
                     msg=result.get("error") or "device %s: %s" % (address, outcome), **answer)


if __name__ == "__main__":
    main()

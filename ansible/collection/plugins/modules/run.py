#!/usr/bin/python
# -*- coding: utf-8 -*-
# The fast path: one task (run_once) runs fleetcmd run over the whole inventory and returns per-device results.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: run
short_description: Send commands to every device of an inventory at once with fleetcmd run
description:
  - "Runs C(fleetcmd run) over an inventory file (the one Ansible uses, since fleetcmd reads Ansible INI and YAML)
    and returns every device's result keyed by inventory name, so that later per-host tasks can use
    C(fleet.devices[inventory_hostname])."
  - "Use it with C(run_once: true); registered results are then visible on every host of the play."
  - In check mode nothing is sent; C(devices) lists the devices that would be contacted (outcome C(skipped)).
  - The per-device results are returned as C(devices), not C(results), which Ansible reserves for loops.
version_added: "0.1.0"
options:
  inventory:
    description: Inventory file; usually C("{{ inventory_file }}").
    type: path
    required: true
  limit:
    description:
      - Ansible host pattern selecting devices; usually C("{{ ansible_limit | default(omit) }}").
      - Ignored when O(hosts) is given.
    type: str
  hosts:
    description:
      - The exact devices to run, by inventory name; usually C("{{ ansible_play_hosts_all }}"), the play's hosts as
        Ansible resolved them (its pattern, C(--limit) with subscripts, failed hosts), so fleetcmd does not evaluate
        the pattern again.
      - Passed to fleetcmd as C(--limit @FILE), one name per line.
    type: list
    elements: str
  commands:
    description: Commands to send to every device, in order.
    type: list
    elements: str
    required: true
  forks:
    description: Conversations in flight at once.
    type: int
    default: 1000
  preset:
    description: Framing preset for devices whose inventory sets no C(fleetcmd_preset).
    type: str
    default: esc-cr
  connect_timeout:
    description: Limit for each connection.
    type: str
    default: 5s
  reply_timeout:
    description: Limit for each reply.
    type: str
    default: 10s
  retries:
    description: Retries after failures that happened before anything was sent.
    type: int
    default: 2
  idempotent:
    description: The commands are safe to repeat (retry after any failure).
    type: bool
    default: false
  stop_on_error:
    description: Do not send a device's later commands after its first error reply.
    type: bool
    default: false
  journal:
    description: Keep fleetcmd's run journal (so that C(fleetcmd run --resume) can finish an interrupted run).
    type: bool
    default: true
  fail_on_device_errors:
    description: Fail this task when any device did not end ok (otherwise per-host tasks decide).
    type: bool
    default: false
extends_documentation_fragment:
  - fleetcmd.fleet.common
author:
  - fleetcmd maintainers (@fleetcmd)
"""

EXAMPLES = r"""
- name: Whole fleet in one go
  fleetcmd.fleet.run:
    inventory: "{{ inventory_file }}"
    hosts: "{{ ansible_play_hosts_all }}"
    commands: [STATUS]
  run_once: true
  register: fleet

- name: Per host, from the one run
  ansible.builtin.debug:
    msg: "{{ fleet.devices[inventory_hostname].replies }}"
"""

RETURN = r"""
devices:
  description: Per device (inventory name) the fleetcmd result, with device, address, outcome, replies, timings, attempts.
  type: dict
  returned: always
summary:
  description: Count of devices per outcome.
  type: dict
  returned: always
exit_status:
  description: fleetcmd run's exit status (0 all ok, 10 error replies, 11 failures, 12 unknown outcomes); not C(rc),
    which Ansible would read as the task's failure.
  type: int
  returned: always
run_id:
  description: The fleetcmd run id (for fleetcmd runs show / run --resume).
  type: str
  returned: when journaled
"""

import json
import os
import re
import tempfile

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
            inventory=dict(type="path", required=True),
            limit=dict(type="str"),
            hosts=dict(type="list", elements="str"),
            forks=dict(type="int", default=1000),
            idempotent=dict(type="bool", default=False),
            journal=dict(type="bool", default=True),
            fail_on_device_errors=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    base = [fleetcmd_binary(module), "run", "-i", p["inventory"]]
    if p["hosts"] is not None:
        # The play's own host list: fleetcmd selects exactly these names (each line of the file is a host name).
        handle, hosts_file = tempfile.mkstemp(prefix="fleetcmd-hosts-", suffix=".txt")
        with os.fdopen(handle, "w") as f:
            f.write("".join(name + "\n" for name in p["hosts"]))
        module.add_cleanup_file(hosts_file)
        base += ["--limit", "@" + hosts_file]
    elif p["limit"]:
        base += ["--limit", p["limit"]]
    if module.check_mode:
        rc, out, err = module.run_command(base + ["--list-hosts"], environ_update=fleetcmd_environment(p))
        if rc != 0:
            module.fail_json(msg="fleetcmd run --list-hosts failed (exit %d): %s" % (rc, err.strip()), rc=rc)
        results = {}
        for line in out.splitlines():
            name, dummy, address = line.partition(" ")
            results[name] = dict(device=name, address=address, outcome="skipped", replies=[])
        module.exit_json(changed=bool(results), devices=results, summary={"skipped": len(results)}, would_send=p["commands"],
                         msg="check mode: would send %d command(s) to %d device(s)" % (len(p["commands"]), len(results)))
    argv = base + common_flags(p) + ["--forks", str(p["forks"])]
    if p["idempotent"]:
        argv.append("--idempotent")
    if not p["journal"]:
        argv.append("--no-journal")
    argv += ["--"] + p["commands"]
    rc, out, err = module.run_command(argv, environ_update=fleetcmd_environment(p))
    try:
        devices = json.loads(out)
    except ValueError:
        module.fail_json(msg="fleetcmd run failed (exit %d): %s" % (rc, err.strip()), rc=rc)
    results = dict((d["device"], d) for d in devices)
    summary = {}
    for d in devices:
        summary[d["outcome"]] = summary.get(d["outcome"], 0) + 1
    match = re.search(r"run (\S+): ", err)
    answer = dict(devices=results, summary=summary, exit_status=rc, run_id=match.group(1) if match else None,
                  changed=any(d["outcome"] not in ("refused", "unreachable", "connect-timeout", "skipped") for d in devices))
    not_ok = len(devices) - summary.get("ok", 0)
    msg = "%d device(s): %s" % (len(devices), ", ".join("%d %s" % (n, o) for o, n in sorted(summary.items())))
    if rc not in (0, 10, 11, 12, 13) or (p["fail_on_device_errors"] and not_ok):
        module.fail_json(msg=msg + (("; " + err.strip()) if rc not in (0, 10, 11, 12, 13) else ""), **answer)
    module.exit_json(msg=msg, **answer)


if __name__ == "__main__":
    main()

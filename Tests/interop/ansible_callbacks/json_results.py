# A minimal stdout callback for the tests: every task's per-host results and the play recap as one JSON document
# (ansible-core 2.19 moved its json callback to the ansible.posix collection, which is not on PyPI alone).
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: json_results
type: stdout
short_description: per-task host results as JSON (tests only)
description: "Prints {plays: [{tasks: [{name, hosts: {host: result}}]}], stats: {host: {...}}}."
"""

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "json_results"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"name": play.get_name(), "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]["tasks"].append({"name": task.get_name(), "hosts": {}})

    def _record(self, result, **extra):
        data = dict(result._result)
        data.update(extra)
        self.plays[-1]["tasks"][-1]["hosts"][result._host.get_name()] = data

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in sorted(stats.processed.keys())}
        self._display.display(json.dumps({"plays": self.plays, "stats": summary}, default=str))

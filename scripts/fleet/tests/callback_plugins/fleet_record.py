# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""Records every task result and the play recap as JSON for the fleet test's checks
(scripts/fleet/tests/fleet.py), beside the normal output. The file is $FLEET_RECORD."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: fleet_record
type: aggregate
short_description: Writes task results and stats to $FLEET_RECORD (sensorctl's fleet test)
description:
  - Test helper of scripts/fleet/test; not part of the collection.
requirements:
  - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleet_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.results = []
        self.stats = {}

    def _record(self, result, status):
        res = dict(result._result)
        self.results.append({
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "changed": bool(res.get("changed")),
            "result": json.loads(json.dumps(res, default=str)),
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            self.stats[host] = stats.summarize(host)
        path = os.environ.get("FLEET_RECORD")
        if path:
            with open(path, "w") as handle:
                json.dump({"results": self.results, "stats": self.stats}, handle, indent=1)

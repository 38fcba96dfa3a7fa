# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.limit: an interface's outbound bandwidth limit, declared
(documentation: plugins/modules/limit.py)."""

from __future__ import annotations

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import plan_limit


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "interface": {"type": "str", "required": True},
        "limit": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
    ARGUMENT_RULES = {"required_if": [["state", "present", ["limit"]]]}

    def act(self, args, task_vars):
        current = self.sensorctl.json(["network", "limit-list", "--json"])
        before = next((e for e in current if e.get("interface") == args["interface"]), None)
        command, after = plan_limit(current, args["interface"], args["limit"], args["state"])
        result = {"changed": command is not None, "limit": after if command is not None else before}
        if args["state"] == "absent" and command is None:
            result["limit"] = None
        if self.diff_mode and command is not None:
            result["diff"] = {"before": {"limit": before}, "after": {"limit": after}}
        if self.check_mode or command is None:
            return result
        _, stdout, _ = self.sensorctl.run(["network", "limit"] + command)
        result["message"] = stdout.strip()
        return result

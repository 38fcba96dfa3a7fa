# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.ntp: the NTP servers, declared (documentation: plugins/modules/ntp.py)."""

from __future__ import annotations

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import plan_ntp


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "servers": {"type": "list", "elements": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "exclusive": {"type": "bool", "default": False},
    }

    def act(self, args, task_vars):
        status = self.sensorctl.json(["ntp", "status", "--json"])
        before = list(status.get("servers", []))
        disable, enable, after = plan_ntp(before, args["servers"], args["state"], args["exclusive"])
        result = {"changed": bool(disable or enable), "servers": after, "disabled": disable, "enabled": enable}
        if self.diff_mode and result["changed"]:
            result["diff"] = {"before": {"servers": before}, "after": {"servers": after},
                              "before_header": "ntp servers", "after_header": "ntp servers"}
        if self.check_mode or not result["changed"]:
            return result
        # Removals first: an exclusive list never has more servers than declared, even when an
        # enable fails half-way.
        for server in disable:
            self.sensorctl.run(["ntp", "disable", server])
        messages = []
        for server in enable:
            _, stdout, _ = self.sensorctl.run(["ntp", "enable", server])
            messages += stdout.splitlines()
        result["servers"] = self.sensorctl.json(["ntp", "status", "--json"]).get("servers", [])
        result["messages"] = messages
        return result

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.login_protection: the failed-login limit and window, declared
(documentation: plugins/modules/login_protection.py)."""

from __future__ import annotations

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import plan_login_protection


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "max_failed": {"type": "int"},
        "window": {"type": "int"},
    }
    ARGUMENT_RULES = {"required_one_of": [["max_failed", "window"]]}

    def act(self, args, task_vars):
        current = self.sensorctl.json(["system", "login-protection", "--json"])
        options, after = plan_login_protection(current, args["max_failed"], args["window"])
        before = {"max_failed": current.get("max_failed"), "window_s": current.get("window_s")}
        result = {"changed": bool(options), "login_protection": after, "locked_hosts": current.get("locked_hosts", [])}
        if self.diff_mode and options:
            result["diff"] = {"before": before, "after": after}
        if self.check_mode or not options:
            return result
        report = self.sensorctl.json(["system", "login-protection"] + options + ["--json"])
        result["login_protection"] = {"max_failed": report.get("max_failed"), "window_s": report.get("window_s")}
        return result

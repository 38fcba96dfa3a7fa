# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.command: one read-only sensorctl command, its JSON as the result
(documentation: plugins/modules/command.py)."""

from __future__ import annotations

import shlex

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import readonly_argv


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "argv": {"type": "list", "elements": "str"},
        "cmd": {"type": "str"},
        "json": {"type": "bool", "default": True},
        "ok_codes": {"type": "list", "elements": "int", "default": [0]},
    }
    ARGUMENT_RULES = {"required_one_of": [["argv", "cmd"]], "mutually_exclusive": [["argv", "cmd"]]}

    def act(self, args, task_vars):
        words = args["argv"] if args["argv"] is not None else shlex.split(args["cmd"])
        argv = readonly_argv(words, json_output=args["json"])
        rc, stdout, stderr = self.sensorctl.run(argv, ok=tuple(args["ok_codes"]))
        result = {
            "changed": False,
            # Set, or Ansible fails every result whose rc is not 0 (ok_codes may accept others).
            "failed": False,
            "rc": rc,
            "cmd": ["sensorctl"] + argv,
            "stdout": stdout,
            "stdout_lines": stdout.splitlines(),
            "stderr": stderr,
        }
        if "--json" in argv:
            import json

            try:
                result["json"] = json.loads(stdout)
            except ValueError:
                result["json"] = None
        return result

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.facts: the appliance's inventory from sensorctl's --json reports, in one
SSH round trip (documentation: plugins/modules/facts.py)."""

from __future__ import annotations

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import (
    EXIT_DENIED,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_UNSUPPORTED,
    EXIT_USAGE,
    SensorctlError,
    current_filters,
    error_of,
    parse_json,
)

# subset: (command, exit codes whose JSON is the report, how the report becomes facts)
SUBSETS = {
    "version": (["system", "version", "--json"], (EXIT_OK,), None),
    # exit 1 when a service is down: the JSON still says which.
    "sanity": (["system", "sanity", "--json"], (EXIT_OK, EXIT_PROBLEM), None),
    "interfaces": (["network", "list", "--json"], (EXIT_OK,), lambda d: d.get("interfaces", [])),
    "ntp": (["ntp", "status", "--json"], (EXIT_OK,), None),
    # exit 1: no certificate installed.
    "certificate": (["cert", "show", "--json"], (EXIT_OK,), None),
    "upgrade": (["system", "upgrade", "--status", "--json"], (EXIT_OK,), None),
    "backups": (["system", "backup-list", "--json"], (EXIT_OK,), None),
    "backup_space": (["system", "backup", "space", "--json"], (EXIT_OK,), None),
    "login_protection": (["system", "login-protection", "--json"], (EXIT_OK,), None),
    "capture_filter": (["network", "capture-filter", "--show", "--json"], (EXIT_OK,), current_filters),
    "limits": (["network", "limit-list", "--json"], (EXIT_OK,), None),
    # Issue 23's commands: absent from older builds (then listed under `unavailable`).
    "syslog": (["system", "syslog", "--json"], (EXIT_OK,), None),
    "hostname": (["system", "hostname", "--json"], (EXIT_OK,), None),
    "exclusion_rules": (["alerts", "exclusion-rule-list", "--json"], (EXIT_OK,), None),
}

DEFAULT_SUBSETS = [s for s in SUBSETS]


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "gather_subset": {"type": "list", "elements": "str", "default": ["all"]},
    }

    def act(self, args, task_vars):
        wanted = []
        for name in args["gather_subset"]:
            if name == "all":
                wanted += [s for s in DEFAULT_SUBSETS if s not in wanted]
            elif name.startswith("!"):
                wanted = [s for s in (wanted or DEFAULT_SUBSETS) if s != name[1:]]
            elif name in SUBSETS:
                if name not in wanted:
                    wanted.append(name)
            else:
                raise ValueError(f"gather_subset: no subset '{name}' (all, {', '.join(SUBSETS)})")
        if "version" not in wanted:
            wanted.insert(0, "version")
        commands = [SUBSETS[name][0] for name in wanted]
        results = self.sensorctl.batch(commands)
        facts = {"unavailable": {}}
        for name, (rc, stdout, stderr) in zip(wanted, results):
            argv, ok, shape = SUBSETS[name]
            if name == "certificate" and rc == EXIT_PROBLEM:
                facts["certificate"] = None
                continue
            if rc in ok:
                report = parse_json(argv, stdout)
                facts[name] = shape(report) if shape else report
                continue
            message = error_of(rc, stdout, stderr)
            if name == "version":
                raise SensorctlError(argv, rc, message, stdout, stderr)
            if rc == EXIT_USAGE and "unknown command" in message:
                facts["unavailable"][name] = "not in this build of sensorctl"
            elif rc in (EXIT_DENIED, EXIT_UNSUPPORTED):
                facts["unavailable"][name] = SensorctlError(argv, rc, message).describe()
            else:
                raise SensorctlError(argv, rc, message, stdout, stderr)
        version = facts.pop("version")
        facts.update({
            "version": version.get("version"),
            "board": version.get("board"),
            "build_date": version.get("build_date"),
            "target": version.get("target"),
        })
        if "sanity" in facts:
            facts["up"] = bool(facts["sanity"].get("up"))
        return {"changed": False, "ansible_facts": {"sensorctl": facts}}

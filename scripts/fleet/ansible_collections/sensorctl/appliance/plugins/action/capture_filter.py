# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.capture_filter: the components' capture filters, declared
(documentation: plugins/modules/capture_filter.py).

The appliance shows each component's stored expression (`network capture-filter --show
--json`) but not the entries it was built from, so the declared entries are turned into the
expressions the appliance would store (plugin_utils/state.py: CaptureRequest, the rules of
src/capture_filter/mod.rs, checked against the real binary by the unit tests) and compared
with those; only a difference runs cyberx-xsense-capture-filter."""

from __future__ import annotations

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import (
    COMPONENTS,
    CaptureRequest,
    plan_capture_filter,
)


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "program": {"type": "str", "default": "all", "choices": ["all"] + list(COMPONENTS)},
        "mode": {"type": "str", "default": "all-connected", "choices": ["all-connected", "internal"]},
        "include": {"type": "list", "elements": "str", "default": []},
        "exclude": {"type": "list", "elements": "str", "default": []},
        "include_tcp_ports": {"type": "list", "elements": "int", "default": []},
        "include_udp_ports": {"type": "list", "elements": "int", "default": []},
        "exclude_tcp_ports": {"type": "list", "elements": "int", "default": []},
        "exclude_udp_ports": {"type": "list", "elements": "int", "default": []},
        "vlan": {"type": "int"},
        "base_filters": {"type": "dict", "default": {}},
    }

    def act(self, args, task_vars):
        request = CaptureRequest(
            include=args["include"], exclude=args["exclude"], include_tcp_ports=args["include_tcp_ports"],
            include_udp_ports=args["include_udp_ports"], exclude_tcp_ports=args["exclude_tcp_ports"],
            exclude_udp_ports=args["exclude_udp_ports"], vlan=args["vlan"], mode=args["mode"],
            program=args["program"], base_filters=args["base_filters"])
        shown = self.sensorctl.json(["network", "capture-filter", "--show", "--json"])
        changes, before, after = plan_capture_filter(shown, request)
        result = {"changed": bool(changes), "filters": after, "changed_components": sorted(changes)}
        if self.diff_mode and changes:
            result["diff"] = {
                "before": "".join(f"{c}: {before[c]}\n" for c in before),
                "after": "".join(f"{c}: {after[c]}\n" for c in after),
                "before_header": "capture filters", "after_header": "capture filters",
            }
        if self.check_mode or not changes:
            return result
        include, exclude = request.list_files()
        paths = {}
        tmp = None
        if include is not None or exclude is not None:
            tmp = self._make_tmp_path()
            for name, body in (("include", include), ("exclude", exclude)):
                if body is not None:
                    paths[name] = self._connection._shell.join_path(tmp, f"{name}.list")
                    self._transfer_data(paths[name], body)
        try:
            _, stdout, _ = self.sensorctl.run(request.argv(paths.get("include"), paths.get("exclude")))
        finally:
            if tmp is not None:
                self._remove_tmp_path(tmp)
        result["stdout_lines"] = stdout.splitlines()
        stored = plan_capture_filter(self.sensorctl.json(["network", "capture-filter", "--show", "--json"]), request)[0]
        if stored:
            result.update(failed=True, msg="the appliance stored other expressions than declared for "
                                          f"{', '.join(sorted(stored))}: this collection and the binary disagree "
                                          "on the capture-filter rules")
        return result

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.upgrade: copy a signed package, install it into the inactive slot,
reboot, wait for the appliance to come back, and see the upgrade committed -- or report the
rollback (documentation: plugins/modules/upgrade.py).

After the reboot the appliance's daemon decides at start: it commits the pending upgrade once
`system sanity` passes, or rolls back to the previous slot when the services are still not all
running at the end of the board's grace time (README "Software upgrade"). This module waits for
that decision, and asks for it (`system upgrade --commit`) if the daemon has not taken it within
commit_timeout. A failure on one appliance fails the task there, so a play with `serial` and
`max_fail_percentage: 0` stops before the next batch."""

from __future__ import annotations

import os
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import (
    EXIT_TEMPORARY,
    SensorctlError,
    package_manifest,
    parse_json,
    upgrade_outcome,
)

STATUS = ["system", "upgrade", "--status", "--json"]


class ActionModule(SensorctlAction):
    TRANSFERS_FILES = True
    ARGUMENT_SPEC = {
        "package": {"type": "path", "required": True},
        "allow_downgrade": {"type": "bool", "default": False},
        "reboot_timeout": {"type": "int", "default": 600},
        "commit_timeout": {"type": "int", "default": 180},
        "poll_interval": {"type": "float", "default": 2.0},
    }

    def act(self, args, task_vars):
        try:
            local = self._find_needle("files", args["package"])
        except AnsibleError as err:
            raise ValueError(f"package {args['package']}: {to_text(err)}") from None
        manifest = package_manifest(local)
        target = manifest["version"]
        status = self.sensorctl.json(STATUS)
        before = status.get("running_version")
        active = next((s for s in status.get("slots", []) if s.get("active")), {})
        result = {"changed": False, "version": before, "package_version": target,
                  "package_boards": manifest.get("boards", []), "status": status}
        if status.get("state") == "committed" and before == target:
            return result
        # A pending upgrade to this version (a run cut off before its reboot) needs only the
        # reboot and the commit.
        resume = status.get("state") == "pending" and active.get("version") == target
        result["changed"] = True
        if self.diff_mode:
            result["diff"] = {"before": {"version": before}, "after": {"version": target}}
        if self.check_mode:
            # Foretell the appliance's first refusal; the signature, version and space checks
            # are the appliance's alone.
            board = self.sensorctl.json(["system", "version", "--json"]).get("board")
            if board not in manifest.get("boards", []):
                result.update(failed=True, msg=(f"package {args['package']} would be refused: it is for board(s) "
                                                f"{', '.join(manifest.get('boards', []))}, this appliance is board "
                                                f"{board}"))
            return result
        if not resume:
            result["stdout_lines"] = self._install(local, args["allow_downgrade"])
        started = time.monotonic()
        self._reboot(args["reboot_timeout"], args["poll_interval"])
        status = self._wait_back(args["reboot_timeout"], args["poll_interval"], started)
        result["reboot_seconds"] = round(time.monotonic() - started, 1)
        status, decided_by = self._wait_decision(status, target, args["commit_timeout"], args["poll_interval"])
        result.update(status=status, version=status.get("running_version"), committed_by=decided_by)
        outcome = upgrade_outcome(status, target)
        if outcome != "committed":
            sanity = parse_json(["system", "sanity", "--json"],
                                self.sensorctl.run(["system", "sanity", "--json"], ok=(0, 1))[1])
            result.update(failed=True, rolled_back=True, sanity=sanity,
                          msg=(f"upgrade to {target} was rolled back by the appliance ({decided_by}): system sanity "
                               f"did not pass after the reboot; version {status.get('running_version')} is committed "
                               "and runs after the next reboot (see system sanity, and upgrade.log on the appliance)"))
        return result

    def _install(self, local, allow_downgrade):
        tmp = self._make_tmp_path()
        remote = self._connection._shell.join_path(tmp, os.path.basename(local))
        try:
            self._transfer_file(local, remote)
            argv = ["system", "upgrade", remote] + (["--allow-downgrade"] if allow_downgrade else [])
            _, stdout, _ = self.sensorctl.run(argv)
        finally:
            self._remove_tmp_path(tmp)
        return stdout.splitlines()

    def _reboot(self, timeout, interval):
        """`system reboot`: the session ends with the appliance (the connection drops)."""
        try:
            rc, stdout, stderr = self.sensorctl.raw(["system", "reboot"])
        except AnsibleConnectionFailure:
            rc = None
        if rc not in (None, 0, 255):
            raise SensorctlError(["system", "reboot"], rc, stderr.strip() or stdout.strip(), stdout, stderr)
        self._connection.reset()
        if rc is None or rc == 255:
            return
        # The command returned before the connection dropped: wait until the appliance is
        # really gone, so that no answer of the old boot is taken for the new one.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(interval)
            try:
                self.sensorctl.raw(STATUS)
            except AnsibleConnectionFailure:
                self._connection.reset()
                return
        raise ValueError(f"the appliance did not go down within {timeout} s of system reboot")

    def _wait_back(self, timeout, interval, started):
        deadline = started + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            time.sleep(interval)
            try:
                rc, stdout, stderr = self.sensorctl.raw(STATUS)
            except AnsibleConnectionFailure as err:
                last = to_text(err).splitlines()[-1] if to_text(err) else "connection failed"
                self._connection.reset()
                continue
            if rc == 0:
                return self.sensorctl.run(STATUS, json_out=True, first=(rc, stdout, stderr))[1]
            if rc != EXIT_TEMPORARY:  # 75: the daemon is still starting
                self.sensorctl.run(STATUS, first=(rc, stdout, stderr))
            last = stderr.strip()
        raise ValueError(f"the appliance did not come back within {timeout} s of the reboot: {last}")

    def _wait_decision(self, status, target, timeout, interval):
        deadline = time.monotonic() + timeout
        while status.get("state") == "pending" and time.monotonic() < deadline:
            time.sleep(interval)
            status = self.sensorctl.json(STATUS)
        if status.get("state") != "pending":
            return status, "the daemon's start-up check"
        self.sensorctl.run(["system", "upgrade", "--commit"], ok=(0, 1))
        return self.sensorctl.json(STATUS), "system upgrade --commit"

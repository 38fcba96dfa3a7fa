# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""What every sensorctl.appliance action plugin shares: running `sensorctl ...` on the
appliance through the task's connection (the appliance has no Python, so no module is ever
sent there), the exit-code contract, the bounded retry of exit 75, and turning failures into
task results.

Host variables every module reads:
  sensorctl_path         the command on the appliance (default `sensorctl`, found on PATH)
  sensorctl_retries      retries of a command that ends with exit 75 (default 5)
  sensorctl_retry_delay  seconds between them, doubling (default 1)
"""

from __future__ import annotations

import re
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import (
    EXIT_OK,
    EXIT_TEMPORARY,
    SensorctlError,
    error_of,
    parse_json,
)

# Markers between the commands of one batch (ASCII RS): sensorctl escapes every control
# character it prints from the system, and JSON escapes them too, so none appears raw.
_MARK = "\x1e"


class Sensorctl:
    """Runs sensorctl on the appliance of one task."""

    def __init__(self, action, task_vars):
        task_vars = task_vars or {}

        def var(name, default):
            value = task_vars.get(name, default)
            return action._templar.template(value) if isinstance(value, str) else value

        self.action = action
        self.path = var("sensorctl_path", "sensorctl")
        self.retries = int(var("sensorctl_retries", 5))
        self.delay = float(var("sensorctl_retry_delay", 1))
        self.commands_run = 0

    def line(self, argv):
        return " ".join(shlex.quote(str(word)) for word in [self.path] + list(argv))

    def raw(self, argv, in_data=None):
        """(rc, stdout, stderr) of one run; a lost connection raises AnsibleConnectionFailure."""
        self.commands_run += 1
        res = self.action._low_level_execute_command(self.line(argv), sudoable=False, in_data=in_data)
        return res.get("rc"), res.get("stdout", ""), res.get("stderr", "")

    def run(self, argv, ok=(EXIT_OK,), json_out=False, retry=True, in_data=None, first=None):
        """Runs `argv`; exit 75 is retried (`sensorctl_retries` times, the delay doubling);
        any code outside `ok` raises SensorctlError with the command's own message. Returns
        (rc, output, stderr), output parsed from JSON when `json_out` (and rc is 0).
        `first` is a result already had (from a batch) to start from."""
        attempts = 0
        delay = self.delay
        while True:
            if first is not None and attempts == 0:
                rc, stdout, stderr = first
            else:
                rc, stdout, stderr = self.raw(argv, in_data)
            attempts += 1
            if rc == EXIT_TEMPORARY and retry and attempts <= self.retries:
                time.sleep(delay)
                delay *= 2
                continue
            break
        if rc not in ok:
            raise SensorctlError(argv, rc, error_of(rc, stdout, stderr), stdout, stderr, attempts)
        if json_out and rc == EXIT_OK:
            return rc, parse_json(argv, stdout), stderr
        return rc, stdout, stderr

    def json(self, argv, ok=(EXIT_OK,)):
        return self.run(argv, ok=ok, json_out=True)[1]

    def batch(self, commands):
        """Runs several read-only commands in one remote shell: one SSH round trip instead of
        one per command. Returns [(rc, stdout, stderr)] in order; a command that got exit 75
        is run again on its own (with the retries)."""
        parts = []
        for at, argv in enumerate(commands):
            parts.append(f"printf '\\036S{at}\\n'; printf '\\036S{at}\\n' >&2; {self.line(argv)}; "
                         f"printf '\\n\\036E{at} %s\\n' \"$?\"")
        self.commands_run += 1
        res = self.action._low_level_execute_command("; ".join(parts), sudoable=False)
        results = split_batch(res.get("stdout", ""), res.get("stderr", ""), len(commands))
        for at, argv in enumerate(commands):
            if results[at] is None:
                raise SensorctlError(argv, res.get("rc", -1),
                                     f"the batch of commands ended early: {res.get('stderr', '')[-300:]}",
                                     res.get("stdout", ""), res.get("stderr", ""))
            if results[at][0] == EXIT_TEMPORARY:
                results[at] = self.run(argv, ok=tuple(range(256)), first=results[at])
        return results


def split_batch(stdout, stderr, count):
    """The per-command (rc, stdout, stderr) of a batch's output (None for a command whose end
    marker is missing)."""
    outs = {}
    for m in re.finditer(_MARK + r"S(\d+)\n(.*?)\n" + _MARK + r"E\1 (\d+)\n", stdout, re.S):
        outs[int(m.group(1))] = (int(m.group(3)), m.group(2))
    errs = {}
    pieces = re.split(_MARK + r"S(\d+)\n", stderr)
    for at in range(1, len(pieces) - 1, 2):
        errs[int(pieces[at])] = pieces[at + 1]
    results = []
    for at in range(count):
        if at not in outs:
            results.append(None)
        else:
            results.append((outs[at][0], outs[at][1], errs.get(at, "")))
    return results


class SensorctlAction(ActionBase):
    """Base of the modules: argument checking, check mode, failures as results.

    Subclasses set ARGUMENT_SPEC (and the validate_argument_spec keywords in
    ARGUMENT_RULES) and implement act(args, task_vars) -> result dict."""

    TRANSFERS_FILES = False
    _requires_connection = True
    ARGUMENT_SPEC: dict = {}
    ARGUMENT_RULES: dict = {}

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        try:
            _, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, **self.ARGUMENT_RULES)
        except AnsibleActionFail as err:
            result.update(err.result)
            return result
        self.sensorctl = Sensorctl(self, task_vars)
        try:
            result.update(self.act(args, task_vars or {}))
        except SensorctlError as err:
            result.update(err.result())
        except ValueError as err:
            result.update(failed=True, msg=str(err))
        result["sensorctl_commands"] = self.sensorctl.commands_run
        return result

    @property
    def check_mode(self):
        return bool(self._task.check_mode)

    @property
    def diff_mode(self):
        return bool(self._task.diff)

    def act(self, args, task_vars):  # pragma: no cover - every module has its own
        raise NotImplementedError

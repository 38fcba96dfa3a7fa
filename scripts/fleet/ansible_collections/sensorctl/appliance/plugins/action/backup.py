# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""sensorctl.appliance.backup: make a backup when the newest is too old, and fetch it to the
controller, verified (documentation: plugins/modules/backup.py).

Backups are root's alone on the appliance (they hold its keys), so the SSH user cannot copy
one with sftp: `system backup export NAME` streams it, base64, through the daemon, which
checks the role and audits the export. The file is verified before it is stored: the
appliance's own HMAC check (`system backup-list --json`: "verified": "ok"), the size it lists,
and on the controller gzip, tar and every file's SHA-256 against the backup's manifest."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile

from ansible_collections.sensorctl.appliance.plugins.plugin_utils.base import SensorctlAction
from ansible_collections.sensorctl.appliance.plugins.plugin_utils.state import (
    BackupInvalid,
    backup_to_fetch,
    finished_backup_name,
    SensorctlError,
    verify_backup,
)


def _local_matches(path, listed):
    """Whether the controller already holds this backup, complete and valid."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) != listed.get("size"):
        return None
    try:
        return verify_backup(data)
    except BackupInvalid:
        return None


class ActionModule(SensorctlAction):
    ARGUMENT_SPEC = {
        "dest": {"type": "path", "required": True},
        "flat": {"type": "bool", "default": False},
        "name": {"type": "str"},
        "max_age": {"type": "int", "default": 3600},
    }

    def act(self, args, task_vars):
        if args["max_age"] < 0:
            raise ValueError("max_age must be 0 (always make a new backup) or more seconds")
        host = task_vars.get("inventory_hostname", "appliance")
        directory = args["dest"] if args["flat"] else os.path.join(args["dest"], host)
        (rc1, out1, err1), (rc2, out2, err2) = self.sensorctl.batch(
            [["system", "backup-list", "--json"], ["system", "date", "--json"]])
        listed = self.sensorctl.run(["system", "backup-list", "--json"], json_out=True, first=(rc1, out1, err1))[1]
        now = self.sensorctl.run(["system", "date", "--json"], json_out=True, first=(rc2, out2, err2))[1]
        create, chosen = backup_to_fetch(listed, int(now["unix"]) * 1000, args["max_age"], args["name"])
        result = {"changed": False, "created": False, "fetched": False}
        local = os.path.join(directory, chosen["name"]) if chosen else None
        if chosen and _local_matches(local, chosen):
            result.update(backup=chosen["name"], path=local, size=chosen["size"])
            with open(local, "rb") as handle:
                result["sha256"] = hashlib.sha256(handle.read()).hexdigest()
            return result
        result["changed"] = True
        if self.diff_mode:
            result["diff"] = {"before": {"fetched": None},
                              "after": {"fetched": chosen["name"] if chosen else "(a new backup)",
                                        "to": directory}}
        if self.check_mode:
            result.update(created=create, fetched=True, backup=chosen["name"] if chosen else None)
            return result
        if create:
            _, stdout, _ = self.sensorctl.run(["system", "backup", "create"])
            name = finished_backup_name(stdout)
            if name is None:
                raise SensorctlError(["system", "backup", "create"], 0, "it did not say where the backup is stored",
                                     stdout)
            listed = self.sensorctl.json(["system", "backup-list", "--json"])
            chosen = next((b for b in listed if b.get("name") == name), None)
            if chosen is None:
                raise ValueError(f"the new backup {name} is not in system backup-list (rotated away at once?)")
            result["created"] = True
        if chosen.get("verified") != "ok":
            raise ValueError(f"backup {chosen['name']}: the appliance's HMAC check says: {chosen.get('verified')}")
        argv = ["system", "backup", "export", chosen["name"]]
        _, stdout, _ = self.sensorctl.run(argv)
        try:
            data = base64.b64decode("".join(stdout.split()), validate=True)
        except (binascii.Error, ValueError) as err:
            raise SensorctlError(argv, 0, f"the export is not base64: {err}") from None
        if len(data) != chosen["size"]:
            raise ValueError(f"backup {chosen['name']}: fetched {len(data)} bytes, the appliance lists {chosen['size']}")
        try:
            verified = verify_backup(data)
        except BackupInvalid as err:
            raise ValueError(f"backup {chosen['name']} as fetched: {err}") from None
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, chosen["name"])
        # Atomically, 0600 (a backup holds the appliance's keys), checked again once on disk.
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".fetch-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)
            with open(temp, "rb") as handle:
                if hashlib.sha256(handle.read()).hexdigest() != verified["sha256"]:
                    raise ValueError(f"{temp}: the file on disk is not what was fetched")
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        result.update(fetched=True, backup=chosen["name"], path=path, size=len(data), sha256=verified["sha256"],
                      verification=verified, appliance_hmac=chosen.get("verified"))
        return result

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/upgrade.py.

DOCUMENTATION = r"""
module: upgrade
short_description: Upgrade a sensorctl appliance with a signed package, reboot, and see it committed
version_added: 0.1.0
description:
  - Nothing happens when the appliance already runs the package's version, committed.
  - Otherwise copies the package (made by C(sensorctl package build)) to a temporary directory
    on the appliance, runs C(system upgrade) (which verifies the signature, board, version and
    space, and refuses with exit 1 changing nothing), reboots with C(system reboot), waits for
    the appliance to answer again, and waits for the daemon's start-up check to commit the
    upgrade, asking for it with C(system upgrade --commit) after C(commit_timeout).
  - If the appliance rolls back (its services did not all run after the reboot) the task fails
    and says so; the previous version is committed and runs after the next reboot.
  - In a play with C(serial) and C(max_fail_percentage=0), the first failure stops the rollout
    before the next batch.
options:
  package:
    description: The package on the controller (searched in the play's C(files) like C(copy)'s src).
    type: path
    required: true
  allow_downgrade:
    description: Install a version that is not newer than the running one.
    type: bool
    default: false
  reboot_timeout:
    description: Seconds to wait for the appliance to go down and answer again.
    type: int
    default: 600
  commit_timeout:
    description: Seconds to wait for the daemon's decision before asking for it.
    type: int
    default: 180
  poll_interval:
    description: Seconds between attempts while waiting.
    type: float
    default: 2.0
attributes:
  check_mode: {support: full, description: Compares the versions and the appliance's board with the package's; copies nothing.}
  diff_mode: {support: full, description: The version before and after.}
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Rolling upgrade, one sensor at a time, stop at the first failure
  hosts: sensors
  serial: 1
  max_fail_percentage: 0
  gather_facts: false
  tasks:
    - sensorctl.appliance.upgrade:
        package: sensorctl-1.4.0.pkg
"""

RETURN = r"""
version: {description: The running version after the task, returned: always, type: str}
package_version: {description: The package's version, returned: always, type: str}
package_boards: {description: The boards the package is for, returned: always, type: list, elements: str}
status: {description: C(system upgrade --status --json) at the end, returned: always, type: dict}
stdout_lines: {description: What system upgrade printed, returned: when installed, type: list, elements: str}
reboot_seconds: {description: From the reboot until the appliance answered, returned: when rebooted, type: float}
committed_by: {description: Who decided (the daemon's start-up check, or system upgrade --commit), returned: when rebooted, type: str}
rolled_back: {description: Whether the appliance rolled back, returned: on rollback, type: bool}
sanity: {description: C(system sanity --json) after a rollback (which services did not run), returned: on rollback, type: dict}
"""

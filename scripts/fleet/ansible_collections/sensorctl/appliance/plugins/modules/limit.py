# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/limit.py.

DOCUMENTATION = r"""
module: limit
short_description: Declare an interface's outbound bandwidth limit on a sensorctl appliance
version_added: 0.1.0
description:
  - Compares with C(network limit-list --json) (the limits the appliance stores and installs at
    every start) and runs C(network limit) only when the interface's limit differs. Limits are
    compared in bytes per second, so C(1mbit) and C(125kbps) are the same limit.
  - Needs the cyberx role and a sensorctl with C(network limit-list) (issue 24).
options:
  interface:
    description: The interface, e.g. C(eth0).
    type: str
    required: true
  limit:
    description: The limit as sensorctl takes it (C(30kbit), C(10mbps), C(500)); required with C(state=present).
    type: str
  state:
    description: C(absent) clears the limit.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Keep uploads over the satellite link below 2 Mbit/s
  sensorctl.appliance.limit:
    interface: eth0
    limit: 2mbit
"""

RETURN = r"""
limit:
  description: The interface's stored limit after the task (null when none).
  returned: always
  type: dict
  sample: {interface: eth0, limit: 2mbit, bytes_per_second: 250000}
message: {description: What network limit said, returned: when changed, type: str}
"""

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/ntp.py.

DOCUMENTATION = r"""
module: ntp
short_description: Declare a sensorctl appliance's NTP servers
version_added: 0.1.0
description:
  - Compares the declared servers with C(ntp status --json) and runs C(ntp disable) and
    C(ntp enable) for the difference only; a second run reports no change.
  - C(ntp enable) asks the server for the time and sets the clock before it keeps the server;
    a server that does not answer correctly fails the task with the appliance's message and
    nothing changes (README, NTP).
options:
  servers:
    description: IPv4 addresses (dotted quads, as sensorctl takes them).
    type: list
    elements: str
    required: true
  state:
    description: C(present) adds the servers that are missing; C(absent) removes the listed ones.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description: With C(state=present), also remove every server not listed.
    type: bool
    default: false
attributes:
  check_mode: {support: full}
  diff_mode: {support: full, description: The server list before and after.}
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Exactly the site's two servers
  sensorctl.appliance.ntp:
    servers: [10.10.0.1, 10.10.0.2]
    exclusive: true

- name: Retire an old server
  sensorctl.appliance.ntp:
    servers: [192.168.5.5]
    state: absent
"""

RETURN = r"""
servers: {description: The servers after the task, returned: always, type: list, elements: str}
enabled: {description: Servers enabled (or that would be, in check mode), returned: always, type: list, elements: str}
disabled: {description: Servers disabled (or that would be), returned: always, type: list, elements: str}
messages: {description: What ntp enable said (offset, delay, stratum), returned: when servers were enabled, type: list, elements: str}
"""

# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/command.py.

DOCUMENTATION = r"""
module: command
short_description: Run one read-only sensorctl command and return its JSON
version_added: 0.1.0
description:
  - Runs a read-only sensorctl command on the appliance (C(--json) added when the command has
    it) and returns its parsed output as C(json). Never reports a change.
  - Only the read-only commands are accepted; anything that changes the appliance is refused
    on the controller before it is sent. The read-only list is C(system version|date|sanity),
    C(date), C(ntp status|query), C(network list|validate|load|internet-check|limit-list),
    C(network capture-filter --show), C(cert show), C(system upgrade --status),
    C(system backup-list), C(system backup list|space), C(system login-protection) (without
    C(--max-failed)/C(--window)), C(ping), C(help), their C(cyberx-*) alias names, and issue 23's
    C(system syslog), C(system hostname) (without a name) and C(alerts exclusion-rule-list).
options:
  argv:
    description: The command's words, e.g. C([network, validate]).
    type: list
    elements: str
  cmd:
    description: The command as one string, split like a shell would (no shell runs it locally; the words are quoted for the appliance's shell).
    type: str
  json:
    description: Add C(--json) when the command has it.
    type: bool
    default: true
  ok_codes:
    description:
      - Exit codes that are not a failure. C(system sanity) and C(network validate) exit 1 when
        they find a problem; add 1 to read their report then.
    type: list
    elements: int
    default: [0]
attributes:
  check_mode: {support: full, description: Read-only; runs the same in check mode.}
  diff_mode: {support: none}
notes:
  - A failure carries the command's message, its exit code (C(rc)) and C(permission_denied)
    (exit 77, the SSH user's role). Exit 75 is retried (see the facts module's notes).
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Check the management network against the configuration
  sensorctl.appliance.command:
    argv: [network, validate]
    ok_codes: [0, 1]
  register: validate

- name: Ask the site's NTP server without changing anything
  sensorctl.appliance.command:
    cmd: ntp query 10.0.0.1
"""

RETURN = r"""
json:
  description: The command's JSON output (null when it printed none).
  returned: when the command takes --json
  type: raw
rc: {description: The exit code, returned: always, type: int}
cmd: {description: The command run, returned: always, type: list, elements: str}
stdout: {description: Its standard output, returned: always, type: str}
stdout_lines: {description: The same, by line, returned: always, type: list, elements: str}
stderr: {description: Its standard error, returned: always, type: str}
"""

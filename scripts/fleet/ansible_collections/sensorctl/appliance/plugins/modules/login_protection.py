# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/login_protection.py.

DOCUMENTATION = r"""
module: login_protection
short_description: Declare the failed-login limit and lockout window of a sensorctl appliance
version_added: 0.1.0
description:
  - Compares with C(system login-protection --json) and sets only what differs
    (C(--max-failed), C(--window)). Needs the cyberx role.
options:
  max_failed:
    description: Failed logins from one remote host before it is locked out, 1-100.
    type: int
  window:
    description: The window failures count in, and how long a lockout lasts, 1-86400 seconds.
    type: int
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- sensorctl.appliance.login_protection:
    max_failed: 5
    window: 900
"""

RETURN = r"""
login_protection:
  description: The limit and window after the task.
  returned: always
  type: dict
  sample: {max_failed: 5, window_s: 900}
locked_hosts:
  description: Remote hosts locked out when the task started.
  returned: always
  type: list
"""

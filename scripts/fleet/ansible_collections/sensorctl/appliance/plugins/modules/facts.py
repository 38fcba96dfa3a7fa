# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# This file holds the documentation only: the module is the action plugin of the same name
# (plugins/action/facts.py), which runs on the controller; the appliance has no Python.

DOCUMENTATION = r"""
module: facts
short_description: Gather a sensorctl appliance's inventory as facts
version_added: 0.1.0
description:
  - Runs sensorctl's C(--json) reports on the appliance in one SSH round trip and returns them
    under C(ansible_facts.sensorctl) (also the variable C(sensorctl)).
  - Version, board, service health, interfaces, NTP, TLS certificate, upgrade slots, backups,
    backup space, failed-login protection, capture filters and bandwidth limits; and, on builds
    that have them, syslog forwarding, host name and alert exclusion rules.
  - A report the SSH user's role may not read (exit 77) or this build does not have is left
    out and named under C(sensorctl.unavailable); only C(system version) must succeed.
  - Needs no Python on the appliance. Use it with C(gather_facts=false).
options:
  gather_subset:
    description:
      - The reports to gather. C(all), or names from C(sanity), C(interfaces), C(ntp),
        C(certificate), C(upgrade), C(backups), C(backup_space), C(login_protection),
        C(capture_filter), C(limits), C(syslog), C(hostname), C(exclusion_rules); a name with
        C(!) in front leaves it out. C(version) is always gathered.
      - C(backups) verifies each backup's HMAC on the appliance, reading every backup whole
        at low priority; leave it out where backups are large and facts are gathered often.
    type: list
    elements: str
    default: [all]
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
notes:
  - "Host variables: C(sensorctl_path) (default C(sensorctl)), C(sensorctl_retries) (exit 75
    retries, default 5), C(sensorctl_retry_delay) (seconds, doubling, default 1)."
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Inventory of every sensor
  hosts: sensors
  gather_facts: false
  tasks:
    - sensorctl.appliance.facts:
    - ansible.builtin.debug:
        msg: "{{ inventory_hostname }} runs {{ sensorctl.version }} on {{ sensorctl.board }}, up={{ sensorctl.up }}"

- name: Only what is cheap
  sensorctl.appliance.facts:
    gather_subset: [sanity, upgrade, ntp]
"""

RETURN = r"""
ansible_facts:
  description: The facts.
  returned: always
  type: dict
  contains:
    sensorctl:
      description: The appliance as its reports show it.
      type: dict
      contains:
        version: {description: The running version (the committed slot's), type: str, sample: 0.1.0-ab18c83}
        board: {description: The hardware profile, type: str, sample: generic-x86}
        build_date: {description: When the binary was built, type: str}
        target: {description: The binary's target triple, type: str}
        up: {description: Whether every service runs (system sanity), type: bool}
        sanity: {description: C(system sanity --json), type: dict}
        interfaces: {description: C(network list --json)'s interfaces, type: list, elements: dict}
        ntp: {description: C(ntp status --json), type: dict}
        certificate: {description: C(cert show --json); null when none is installed, type: dict}
        upgrade: {description: C(system upgrade --status --json), type: dict}
        backups: {description: C(system backup-list --json), newest first, type: list, elements: dict}
        backup_space: {description: C(system backup space --json), type: dict}
        login_protection: {description: C(system login-protection --json), type: dict}
        capture_filter: {description: Each component's stored expression ("" captures everything), type: dict}
        limits: {description: C(network limit-list --json), type: list, elements: dict}
        unavailable: {description: The reports left out, and why, type: dict}
"""

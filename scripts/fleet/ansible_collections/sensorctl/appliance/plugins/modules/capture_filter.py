# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/capture_filter.py.

DOCUMENTATION = r"""
module: capture_filter
short_description: Declare the capture filters of a sensorctl appliance's analysis components
version_added: 0.1.0
description:
  - Builds, on the controller, the expression each component would get from the declared
    entries (the rules of the README's "Capture filter" section), compares them with
    C(network capture-filter --show --json), and only when one differs runs
    C(cyberx-xsense-capture-filter) with the lists as files in a temporary directory on the
    appliance (removed afterwards). The stored expressions are then read back and must equal
    the declared ones.
  - With nothing declared and C(program=all), every component captures everything (the reset).
  - Components not named by C(program) are left as they are.
  - Needs the cyberx role (the alias is cyberx's).
options:
  program:
    description: C(all) or one component.
    type: str
    default: all
    choices: [all, collector, traffic-monitor, horizon, dissector, statistics-collector, rpc-parser, smb-parser]
  mode:
    description: C(internal) keeps only traffic among the included devices and subnets; C(all-connected) also their traffic with anyone.
    type: str
    default: all-connected
    choices: [all-connected, internal]
  include:
    description: Devices (C(10.0.0.5)), channels (C(10.0.0.5,10.0.0.9)), subnets (C(192.168.1)) and subnet pairs to include.
    type: list
    elements: str
    default: []
  exclude:
    description: As C(include), plus channels on one port (C(10.0.0.5,10.0.0.9,443)).
    type: list
    elements: str
    default: []
  include_tcp_ports: {description: TCP ports to include., type: list, elements: int, default: []}
  include_udp_ports: {description: UDP ports to include., type: list, elements: int, default: []}
  exclude_tcp_ports: {description: TCP ports to exclude., type: list, elements: int, default: []}
  exclude_udp_ports: {description: UDP ports to exclude., type: list, elements: int, default: []}
  vlan:
    description: The one VLAN id to include (libpcap cannot test the outer tag for several).
    type: int
  base_filters:
    description: Base filters by component; the alias takes them for C(horizon), C(traffic-monitor) and C(collector).
    type: dict
    default: {}
attributes:
  check_mode: {support: full}
  diff_mode: {support: full, description: Each component's expression before and after.}
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: The substation's declared capture
  sensorctl.appliance.capture_filter:
    include: [10.20.0.0, 10.20.1]
    exclude: ["10.20.0.5,10.20.0.9,443"]
    exclude_tcp_ports: [22]
    mode: internal

- name: Capture everything again
  sensorctl.appliance.capture_filter:
"""

RETURN = r"""
filters:
  description: The expression of each component the task manages, as declared.
  returned: always
  type: dict
changed_components:
  description: The components whose expression differed.
  returned: always
  type: list
  elements: str
stdout_lines:
  description: What the alias printed (the compiled programs and debug lines).
  returned: when changed and not in check mode
  type: list
  elements: str
"""

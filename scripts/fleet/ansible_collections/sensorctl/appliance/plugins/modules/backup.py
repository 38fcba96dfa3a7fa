# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
# Documentation only: the module is the action plugin plugins/action/backup.py.

DOCUMENTATION = r"""
module: backup
short_description: Make a sensorctl appliance backup when needed and fetch it, verified
version_added: 0.1.0
description:
  - Makes a backup (C(system backup create)) unless the newest one is younger than C(max_age),
    then fetches the newest (or the named) backup to the controller with
    C(system backup export), unless the controller already holds it, complete and valid.
  - "Verified before it is stored: the appliance's own HMAC check (C(system backup-list --json)),
    the size it lists, and on the controller the gzip stream, the tar, and every file's SHA-256
    against the backup's manifest. The file is written atomically, mode 0600 (a backup holds the
    appliance's keys)."
  - Backups are root's alone on the appliance, so they are not copied with sftp; the export
    goes through the appliance's daemon, which checks the role (cyberx) and audits it.
options:
  dest:
    description: The controller directory; the backup lands in C(dest/<inventory_hostname>/) unless C(flat).
    type: path
    required: true
  flat:
    description: Store in C(dest) itself.
    type: bool
    default: false
  name:
    description: Fetch this backup (as C(system backup-list) names it) instead of the newest; makes none.
    type: str
  max_age:
    description: Make a new backup when the newest is older than this many seconds (by the appliance's clock); 0 makes one every run.
    type: int
    default: 3600
attributes:
  check_mode: {support: full, description: Says whether a backup would be made and fetched.}
  diff_mode: {support: partial, description: Names what would be fetched.}
notes:
  - The whole backup passes through the controller's memory (base64 over SSH); meant for
    configuration-sized backups (README "Backups"), not for multi-gigabyte ones.
author:
  - sensorctl authors
"""

EXAMPLES = r"""
- name: Nightly pull into the central store
  sensorctl.appliance.backup:
    dest: /srv/sensor-backups
    max_age: 43200
"""

RETURN = r"""
backup: {description: The backup's file name, returned: when one was chosen, type: str}
path: {description: Where it is on the controller, returned: when fetched or already held, type: str}
sha256: {description: SHA-256 of the whole file, returned: when fetched or already held, type: str}
size: {description: Bytes, returned: when fetched or already held, type: int}
created: {description: Whether a new backup was made, returned: always, type: bool}
fetched: {description: Whether it was fetched now, returned: always, type: bool}
verification:
  description: What the controller checked (entries, files checked, the manifest's head).
  returned: when fetched
  type: dict
"""

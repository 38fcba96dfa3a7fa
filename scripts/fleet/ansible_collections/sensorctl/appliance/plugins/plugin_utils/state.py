# -*- coding: utf-8 -*-
# Copyright: sensorctl authors
# Apache License 2.0 (see LICENSE in the repository root)
"""The pure half of the sensorctl.appliance action plugins: what sensorctl's --json output
means, what a declared state asks of an appliance, and what changed. Nothing here talks to an
appliance or imports Ansible, so the unit tests (scripts/fleet/tests/unit) check it against
outputs recorded from the real binary.

Exit codes (README "Exit codes", stable): 0 success; 1 the command ran and failed or found a
problem; 2 bad input, nothing changed; 69 not supported on this hardware or build; 75 a
temporary failure worth retrying; 77 permission denied for the caller's role -- here, the role
of the SSH user.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import ipaddress
import json
import re
import tarfile
import zlib

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 69
EXIT_TEMPORARY = 75
EXIT_DENIED = 77

EXIT_MEANINGS = {
    EXIT_OK: "success",
    EXIT_PROBLEM: "the command ran and failed or found a problem",
    EXIT_USAGE: "bad input or usage; nothing was changed",
    EXIT_UNSUPPORTED: "not supported on this appliance (hardware or build)",
    EXIT_TEMPORARY: "temporary failure (busy, daemon down or silent)",
    EXIT_DENIED: "permission denied for the role of the SSH user",
}


class SensorctlError(Exception):
    """A sensorctl command that ended with a code the caller did not accept."""

    def __init__(self, argv, rc, message, stdout="", stderr="", attempts=1):
        self.argv = list(argv)
        self.rc = rc
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        self.attempts = attempts
        super().__init__(self.describe())

    @property
    def permission_denied(self):
        return self.rc == EXIT_DENIED

    def describe(self):
        command = "sensorctl " + " ".join(self.argv)
        meaning = EXIT_MEANINGS.get(self.rc, "unexpected exit code")
        message = self.message
        # `sensorctl: <command>: why` repeats the command this line starts with.
        m = re.match(r"sensorctl: [^:]*: (.*)$", message, re.S)
        if m:
            message = m.group(1)
        if self.rc == EXIT_DENIED:
            return (f"{command}: permission denied (exit 77): the SSH user's role on the appliance may not "
                    f"run this; log in as a user whose role may (cyberx for most settings): {message}")
        if self.rc == EXIT_TEMPORARY:
            return f"{command}: {meaning} (exit 75), still after {self.attempts} attempts: {message}"
        return f"{command}: {meaning} (exit {self.rc}): {message}"

    def result(self):
        """The failure as module result fields."""
        return {
            "failed": True,
            "msg": self.describe(),
            "rc": self.rc,
            "error": {"code": self.rc, "message": self.message},
            "permission_denied": self.rc == EXIT_DENIED,
            "cmd": ["sensorctl"] + self.argv,
            "stderr": self.stderr,
            "attempts": self.attempts,
        }


def error_of(rc, stdout, stderr):
    """The message of a failed command: the `{"error":{"code","message"}}` a --json command
    prints on stdout, else its `sensorctl: <command>: ...` line on stderr, else its output."""
    text = (stdout or "").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            return str(doc["error"].get("message", ""))
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    for line in lines:
        if line.startswith("sensorctl: "):
            return line
    for line in lines:
        if ": error: " in line:  # argparse's form (the cyberx-* aliases of the reference)
            return line
    if lines:
        return lines[-1]
    return text.splitlines()[-1] if text else f"exit {rc} without a message"


def parse_json(argv, stdout):
    """The one JSON value of a successful --json command."""
    try:
        return json.loads(stdout)
    except ValueError as err:
        raise SensorctlError(argv, -1, f"the output is not JSON ({err}): {stdout[:200]!r}") from None


# ---------------------------------------------------------------------------------------------
# command: read-only commands only
# ---------------------------------------------------------------------------------------------

# The read-only commands of the README's table, by their words; the value is how the command
# takes --json (True: it has --json; None: it has none).
READ_ONLY = {
    ("system", "version"): True,
    ("cyberx-xsense-version",): True,
    ("system", "date"): True,
    ("date",): True,
    ("system", "sanity"): True,
    ("cyberx-xsense-sanity",): True,
    ("ntp", "status"): True,
    ("system", "ntp", "status"): True,
    ("ntp", "query"): True,
    ("system", "ntp", "query"): True,
    ("network", "list"): True,
    ("network", "validate"): True,
    ("network", "load"): True,
    ("cyberx-nload",): True,
    ("network", "internet-check"): True,
    ("cyberx-xsense-internet-connectivity",): True,
    ("network", "limit-list"): True,
    ("network", "capture-filter"): True,  # with --show only (see readonly_argv)
    ("cert", "show"): True,
    ("system", "upgrade"): True,  # with --status only
    ("system", "backup-list"): True,
    ("system", "backup", "list"): True,
    ("cyberx-xsense-system-backup-list",): True,
    ("system", "backup", "space"): True,
    ("cyberx-backup-memory-check",): True,
    ("system", "login-protection"): True,  # without --max-failed/--window
    ("ping",): None,
    ("system", "syslog"): True,  # issue 23: the show form only (no setting options)
    ("system", "hostname"): True,  # issue 23: without a NAME
    ("alerts", "exclusion-rule-list"): True,
    ("cyberx-xsense-exclusion-rule-list",): True,
    ("help",): None,
}

# Options that make a listed command change something; refused by `command`.
_CHANGING_OPTIONS = {
    ("system", "login-protection"): ("--max-failed", "--window"),
    ("system", "syslog"): ("--server", "--port", "--protocol", "--enable", "--disable", "--add", "--remove",
                           "--clear", "--set"),
}


def readonly_argv(words, json_output=True):
    """`words` checked to be a read-only command, with --json added when asked and the command
    has it. Raises ValueError saying why not."""
    words = [str(w) for w in words]
    if not words:
        raise ValueError("no command given")
    for word in words:
        if "\n" in word or "\0" in word:
            raise ValueError("a word holds a newline or NUL")
    match = None
    for length in (3, 2, 1):
        key = tuple(words[:length])
        if key in READ_ONLY:
            match = key
            break
    if match is None:
        raise ValueError(f"'{' '.join(words[:3])}' is not a read-only sensorctl command this module runs "
                         f"(see the module's documentation for the list)")
    rest = words[len(match):]
    options = [w.split("=", 1)[0] for w in rest if w.startswith("-")]
    if match in (("network", "capture-filter"),) and "--show" not in options:
        raise ValueError("network capture-filter changes the filters unless --show is given")
    if match == ("network", "capture-filter") and "--test" in options:
        raise ValueError("network capture-filter --test listens on a port; not a read-only report")
    if match == ("system", "upgrade") and (options != ["--status"] and options != ["--status", "--json"]
                                          and options != ["--json", "--status"]):
        raise ValueError("system upgrade is read-only only as --status")
    if match == ("system", "hostname") and [w for w in rest if not w.startswith("-")]:
        raise ValueError("system hostname NAME sets the host name")
    for option in _CHANGING_OPTIONS.get(match, ()):
        if option in options:
            raise ValueError(f"{' '.join(match)} {option} changes a setting")
    has_json = READ_ONLY[match]
    if json_output and has_json and "--json" not in options:
        words = words + ["--json"]
    return words


# ---------------------------------------------------------------------------------------------
# Values checked on the controller, as the appliance checks them
# ---------------------------------------------------------------------------------------------

def dotted_quad(text):
    """An IPv4 address as sensorctl takes it: a dotted quad, no leading zeros, not multicast or
    broadcast (README "NTP")."""
    text = str(text).strip()
    if not re.fullmatch(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}", text):
        raise ValueError(f"'{text}' is not a dotted-quad IPv4 address")
    address = ipaddress.IPv4Address(text)
    if address.is_multicast or text == "255.255.255.255":
        raise ValueError(f"'{text}' is a multicast or broadcast address")
    return text


_RATE_UNITS = {"kbps": 1000, "mbps": 1000 * 1000, "kbit": 125, "mbit": 125 * 1000, "bps": 1, "": 1}


def rate_bytes(text):
    """The bytes per second of a `network limit` value (`30kbit`, `10mbps`, `500`): decimal
    prefixes, whole numbers, lower case; 1kbit to 100000mbit (README "Bandwidth limit")."""
    m = re.fullmatch(r"([1-9][0-9]*)(kbps|mbps|kbit|mbit|bps|)", str(text))
    if not m:
        raise ValueError(f"'{text}' is not a limit: a whole number and one of kbps, mbps, kbit, mbit, bps "
                         "(or none: bytes per second), lower case")
    value = int(m.group(1)) * _RATE_UNITS[m.group(2)]
    if not 125 <= value <= 100000 * 125 * 1000:
        raise ValueError(f"'{text}' is outside 1kbit-100000mbit")
    return value


# ---------------------------------------------------------------------------------------------
# Declared state -> plan
# ---------------------------------------------------------------------------------------------

def plan_ntp(current, servers, state="present", exclusive=False):
    """What `ntp` must run: (disable, enable, after) from `ntp status --json`'s servers."""
    current = list(current)
    declared = []
    for server in servers:
        server = dotted_quad(server)
        if server not in declared:
            declared.append(server)
    if state == "absent":
        disable = [s for s in current if s in declared]
        enable = []
    else:
        disable = [s for s in current if s not in declared] if exclusive else []
        enable = [s for s in declared if s not in current]
    after = [s for s in current if s not in disable] + enable
    return disable, enable, after


def plan_login_protection(current, max_failed=None, window=None):
    """The options of `system login-protection` that change something, and the state after."""
    options = []
    after = {"max_failed": current.get("max_failed"), "window_s": current.get("window_s")}
    if max_failed is not None:
        if not 1 <= int(max_failed) <= 100:
            raise ValueError("max_failed must be 1-100")
        if int(max_failed) != current.get("max_failed"):
            options += ["--max-failed", str(int(max_failed))]
            after["max_failed"] = int(max_failed)
    if window is not None:
        if not 1 <= int(window) <= 86400:
            raise ValueError("window must be 1-86400 seconds")
        if int(window) != current.get("window_s"):
            options += ["--window", str(int(window))]
            after["window_s"] = int(window)
    return options, after


def plan_limit(current, interface, limit=None, state="present"):
    """The `network limit` arguments that make `interface` have `limit` (or none), from
    `network limit-list --json`; None when it already does. Limits are compared by bytes per
    second, so `1mbit` and `125kbps` are the same limit."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", interface or ""):
        raise ValueError(f"'{interface}' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)")
    stored = next((entry for entry in current if entry.get("interface") == interface), None)
    if state == "absent":
        if stored is None:
            return None, None
        return ["--interface", interface, "--clear"], None
    if limit is None:
        raise ValueError("limit is required with state=present")
    wanted = rate_bytes(limit)
    if stored is not None and stored.get("bytes_per_second") == wanted:
        return None, stored
    return ["--interface", interface, "--limit", str(limit)], {"interface": interface, "limit": str(limit),
                                                              "bytes_per_second": wanted}


# ---------------------------------------------------------------------------------------------
# Capture filters: the expression each component gets, as src/capture_filter/mod.rs builds it
# ---------------------------------------------------------------------------------------------

COMPONENTS = ("collector", "traffic-monitor", "horizon", "dissector", "statistics-collector", "rpc-parser",
              "smb-parser")
# The components whose base filter the alias takes, and its flag.
BASE_FLAGS = {"horizon": "-o", "traffic-monitor": "-s", "collector": "-c"}


def _octets(part, entry):
    values = part.split(".")
    for octet in values:
        if not re.fullmatch(r"(0|[1-9][0-9]{0,2})", octet) or int(octet) > 255:
            raise ValueError(f"invalid entry '{entry}': an octet is not a number 0-255")
    return values


def capture_entry(text, exclude):
    """One include or exclude entry taken apart, as `Entry::parse`: (kind, parts)."""
    parts = [p.strip() for p in str(text).strip().split(",")]
    if len(parts) == 1:
        o = _octets(parts[0], text)
        if len(o) == 4:
            return ("device", [".".join(o)])
        if len(o) == 3:
            return ("subnet", [".".join(o)])
        raise ValueError(f"invalid entry '{text}': neither a device (a.b.c.d) nor a subnet (a.b.c)")
    if len(parts) == 2:
        a, b = _octets(parts[0], text), _octets(parts[1], text)
        if len(a) == 4 and len(b) == 4:
            return ("channel", [".".join(a), ".".join(b)])
        if len(a) == 3 and len(b) == 3:
            return ("subnet-pair", [".".join(a), ".".join(b)])
        raise ValueError(f"invalid entry '{text}': a pair is two devices or two subnets")
    if len(parts) == 3:
        if not exclude:
            raise ValueError(f"invalid entry '{text}': a channel on one port can only be excluded")
        a, b = _octets(parts[0], text), _octets(parts[1], text)
        if len(a) != 4 or len(b) != 4:
            raise ValueError(f"invalid entry '{text}': a channel on a port is two devices and a port")
        port = _port(parts[2])
        return ("channel-port", [".".join(a), ".".join(b), str(port)])
    raise ValueError(f"invalid entry '{text}': too many fields")


def _port(value):
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > 65535:
        raise ValueError(f"invalid port '{text}' (0-65535)")
    return int(text)


def _term(kind, parts):
    if kind == "device":
        return f"host {parts[0]}"
    if kind == "channel":
        return f"host {parts[0]} and host {parts[1]}"
    if kind == "channel-port":
        return f"host {parts[0]} and host {parts[1]} and port {parts[2]}"
    if kind == "subnet":
        return f"net {parts[0]}"
    return f"net {parts[0]} and net {parts[1]}"


def _entry_text(kind, parts):
    return ",".join(parts)


class CaptureRequest:
    """A declared capture filter: what one run of cyberx-xsense-capture-filter asks for."""

    def __init__(self, include=(), exclude=(), include_tcp_ports=(), include_udp_ports=(), exclude_tcp_ports=(),
                 exclude_udp_ports=(), vlan=None, mode="all-connected", program="all", base_filters=None):
        self.include = [capture_entry(e, False) for e in include or ()]
        self.exclude = [capture_entry(e, True) for e in exclude or ()]
        self.include_tcp_ports = [_port(p) for p in include_tcp_ports or ()]
        self.include_udp_ports = [_port(p) for p in include_udp_ports or ()]
        self.exclude_tcp_ports = [_port(p) for p in exclude_tcp_ports or ()]
        self.exclude_udp_ports = [_port(p) for p in exclude_udp_ports or ()]
        if vlan is not None and vlan != "":
            if not re.fullmatch(r"[0-9]{1,4}", str(vlan)) or int(vlan) > 4095:
                raise ValueError(f"invalid VLAN id '{vlan}' (0-4095)")
            vlan = int(vlan)
        else:
            vlan = None
        self.vlan = vlan
        if mode not in ("internal", "all-connected"):
            raise ValueError(f"mode must be internal or all-connected, not '{mode}'")
        self.mode = mode
        if program != "all" and program not in COMPONENTS:
            raise ValueError(f"program must be all or one of {', '.join(COMPONENTS)}")
        self.program = program
        self.bases = {}
        for component, text in (base_filters or {}).items():
            if component not in BASE_FLAGS:
                raise ValueError(f"a base filter can be given for {', '.join(BASE_FLAGS)} only, not '{component}'")
            text = "" if text is None else str(text).strip()
            if "\n" in text or "\0" in text:
                raise ValueError(f"the base filter of {component} holds a newline")
            if text:
                self.bases[component] = text

    def components(self):
        return list(COMPONENTS) if self.program == "all" else [self.program]

    def expression(self, component):
        """The expression `component` gets (see src/capture_filter/mod.rs, `expression`)."""
        body = []
        base = self.bases.get(component)
        if base:
            body.append(f"({base})")
        included = []
        ends = [e for e in self.include if e[0] in ("device", "subnet")]
        pairs = [e for e in self.include if e[0] not in ("device", "subnet")]
        if self.mode == "all-connected":
            included += [_term(*e) for e in ends]
        elif ends:
            def side(direction):
                return " or ".join(f"{direction} {_term(*e)}" for e in ends)
            included.append(f"({side('src')}) and ({side('dst')})")
        included += [_term(*e) for e in pairs]
        included += [f"tcp port {p}" for p in self.include_tcp_ports]
        included += [f"udp port {p}" for p in self.include_udp_ports]
        if included:
            body.append("(" + " or ".join(f"({t})" for t in included) + ")")
        if self.exclude:
            body.append("(" + " and ".join(f"(not ({_term(*e)}))" for e in self.exclude) + ")")
        body += [f"(not (tcp port {p}))" for p in self.exclude_tcp_ports]
        body += [f"(not (udp port {p}))" for p in self.exclude_udp_ports]
        text = " and ".join(body)
        if self.vlan is None:
            return f"({text}) or (vlan and {text})" if text else ""
        return f"vlan {self.vlan} and {text}" if text else f"vlan {self.vlan}"

    def expressions(self):
        return {c: self.expression(c) for c in self.components()}

    def list_files(self):
        """The -i and -x file bodies (None: no file)."""
        include = "\n".join(_entry_text(*e) for e in self.include) + "\n" if self.include else None
        exclude = "\n".join(_entry_text(*e) for e in self.exclude) + "\n" if self.exclude else None
        return include, exclude

    def argv(self, include_path=None, exclude_path=None):
        """The alias's arguments (the lists as files already on the appliance)."""
        args = ["cyberx-xsense-capture-filter", "-p", self.program, "-m", self.mode]
        if include_path:
            args += ["-i", include_path]
        if exclude_path:
            args += ["-x", exclude_path]
        for flag, ports in (("-itp", self.include_tcp_ports), ("-iup", self.include_udp_ports),
                            ("-etp", self.exclude_tcp_ports), ("-eup", self.exclude_udp_ports)):
            if ports:
                args += [flag, ",".join(str(p) for p in ports)]
        if self.vlan is not None:
            args += ["-vlan", str(self.vlan)]
        for component, flag in BASE_FLAGS.items():
            if component in self.bases:
                args += [flag, self.bases[component]]
        return args


def current_filters(shown):
    """`network capture-filter --show --json` as {component: expression}; a component with no
    filter line (null) captures everything, as the empty expression does."""
    return {item["component"]: (item.get("expression") or "") for item in shown}


def plan_capture_filter(shown, request):
    """(changes, before, after): the components whose stored expression differs."""
    current = current_filters(shown)
    wanted = request.expressions()
    changes = {c: e for c, e in wanted.items() if current.get(c, "") != e}
    before = {c: current.get(c, "") for c in wanted}
    return changes, before, wanted


# ---------------------------------------------------------------------------------------------
# Backups
# ---------------------------------------------------------------------------------------------

MANIFEST_NAME = "SENSORCTL-BACKUP-MANIFEST.jsonl"
HMAC_NAME = "SENSORCTL-BACKUP-HMAC"


class BackupInvalid(Exception):
    pass


def verify_backup(data):
    """Checks a backup file as fetched (bytes) against its own manifest (README "Backups"):
    gzip (each member's CRC-32 and length), tar, the manifest first and the HMAC member last,
    every entry present in manifest order with its type and size, and every file's SHA-256 equal
    to the manifest's. (The HMAC itself needs the appliance's key: the appliance checks it, and
    backup-list reports it.) Returns a summary dict; raises BackupInvalid."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise BackupInvalid(f"not a complete gzip stream: {err}") from None
    try:
        archive = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
        members = archive.getmembers()
    except tarfile.TarError as err:
        raise BackupInvalid(f"not a tar archive: {err}") from None
    if not members or members[0].name != MANIFEST_NAME:
        raise BackupInvalid(f"the first member is not {MANIFEST_NAME}")
    if members[-1].name != HMAC_NAME:
        raise BackupInvalid(f"the last member is not {HMAC_NAME}")
    manifest = archive.extractfile(members[0]).read().decode("utf-8")
    lines = manifest.split("\n")
    try:
        head = json.loads(lines[0])
    except ValueError:
        raise BackupInvalid("the manifest's head line is not JSON") from None
    entries = []
    at = 1
    end = None
    while at < len(lines):
        line = json.loads(lines[at])
        at += 1
        if line.get("end") is True:
            end = line
            break
        entries.append(line)
    if end is None or end.get("entries") != len(entries):
        raise BackupInvalid("the manifest has no end line, or it counts other entries")
    files = [e for e in entries if e.get("type") == "file"]
    hashes = [h for h in lines[at:at + len(files)]]
    if end.get("files") != len(files) or len(hashes) != len(files) or not all(
            re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
        raise BackupInvalid("the manifest's SHA-256 list does not match its files")
    digests = dict(zip((f["path"] for f in files), hashes))
    body = members[1:-1]
    if [m.name.rstrip("/") for m in body] != [e["path"] for e in entries]:
        raise BackupInvalid("the archive's entries are not the manifest's, in its order")
    checked = 0
    for member, entry in zip(body, entries):
        if entry["type"] == "dir":
            if not member.isdir():
                raise BackupInvalid(f"{entry['path']}: a directory in the manifest, not in the archive")
            continue
        if not member.isfile() or member.size != entry["size"]:
            raise BackupInvalid(f"{entry['path']}: not a file of {entry['size']} bytes")
        digest = hashlib.sha256(archive.extractfile(member).read()).hexdigest()
        if digest != digests[entry["path"]]:
            raise BackupInvalid(f"{entry['path']}: SHA-256 {digest}, the manifest says {digests[entry['path']]}")
        checked += 1
    return {
        "format": head.get("format"),
        "product_version": head.get("product_version"),
        "board": head.get("board"),
        "hostname": head.get("hostname"),
        "created": head.get("created"),
        "entries": len(entries),
        "files_checked": checked,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def backup_to_fetch(listed, now_ms, max_age_s, name=None):
    """(create, chosen): whether a new backup must be made first, and the listed backup to fetch
    (None until it is made). `listed` is `system backup-list --json`, newest first."""
    if name:
        chosen = next((b for b in listed if b.get("name") == name), None)
        if chosen is None:
            raise ValueError(f"the appliance has no backup named '{name}'")
        return False, chosen
    newest = listed[0] if listed else None
    if newest is None or max_age_s == 0 or now_ms - int(newest.get("epoch_ms", 0)) > max_age_s * 1000:
        return True, None
    return False, newest


def finished_backup_name(stdout):
    """The name `system backup` reports: `Finished backup. Backup is stored at <path>`."""
    for line in stdout.splitlines():
        m = re.match(r"Finished backup\. Backup is stored at (.+)$", line.strip())
        if m:
            return m.group(1).rsplit("/", 1)[-1]
    return None


# ---------------------------------------------------------------------------------------------
# Upgrades
# ---------------------------------------------------------------------------------------------

def package_manifest(path):
    """The manifest.json of a signed package (a POSIX tar whose first member it is)."""
    try:
        with tarfile.open(path, mode="r:") as archive:
            first = archive.next()
            if first is None or first.name != "manifest.json":
                raise ValueError(f"{path}: the first member is not manifest.json: not a sensorctl package")
            manifest = json.loads(archive.extractfile(first).read().decode("utf-8"))
    except tarfile.TarError as err:
        raise ValueError(f"{path}: not a sensorctl package: {err}") from None
    if manifest.get("product") != "sensorctl" or not manifest.get("version"):
        raise ValueError(f"{path}: its manifest is not a sensorctl package's")
    return manifest


def version_key(text):
    """Dotted numbers compare as numbers; anything after the first non-numeric part is ignored
    (the running version of a factory image is `<semver>-<git hash>`)."""
    parts = []
    for part in re.split(r"[.]", re.split(r"[-+]", str(text), maxsplit=1)[0]):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def upgrade_outcome(status, target_version):
    """What `system upgrade --status --json` says after the reboot, for `target_version`:
    'committed', 'pending' (the daemon's start-up check has not decided yet), or 'rolled-back'
    (committed, but to another version: the check failed and the previous slot is active)."""
    if status.get("state") == "pending":
        return "pending"
    if status.get("running_version") == target_version:
        return "committed"
    return "rolled-back"

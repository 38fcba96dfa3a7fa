"""The fleet test's checks, run by scripts/fleet/test once it has started the appliances: the
collection's own example playbooks (and a few test playbooks) run by ansible-playbook against
five simulated appliances over SSH, and every outcome checked from this machine's side --
in the appliances' files and run-shell's logs, not through the collection.

Environment (set by scripts/fleet/test): FLEET_WORK (ansible.cfg, fleet.ini, hosts.json),
FLEET_BIN (the sensorctl under test), FLEET_PKG_GOOD / FLEET_PKG_WRONG (signed packages for
the sandbox board and another board), FLEET_VERSION_NEW (the good package's version).
Prints one line per check and `fleet: N passed, N failed`; exits 1 if any failed.
"""

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.dirname(HERE)
COLLECTION = os.path.join(FLEET, "ansible_collections", "sensorctl", "appliance")
EXAMPLES = os.path.join(COLLECTION, "playbooks")
TESTS = os.path.join(HERE, "playbooks")

WORK = os.environ["FLEET_WORK"]
BIN = os.environ["FLEET_BIN"]
HOSTS = json.load(open(os.path.join(WORK, "hosts.json")))  # name -> {dir, address, log}
NAMES = sorted(HOSTS)
VENV_BIN = os.path.dirname(sys.executable)

passed, failed = [], []
figures = {}


def playbook(path, *args, expect_rc=0, label=None):
    """Runs ansible-playbook; returns (record, seconds). The record is fleet_record's JSON."""
    record = os.path.join(WORK, f"record-{len(passed) + len(failed)}-{os.path.basename(path)}.json")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(WORK, "ansible.cfg"), FLEET_RECORD=record)
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), path] + list(args), env=env,
                          capture_output=True, text=True, cwd=WORK)
    seconds = time.monotonic() - started
    log = os.path.join(WORK, f"{os.path.basename(record)}.log")
    with open(log, "w") as handle:
        handle.write(proc.stdout + proc.stderr)
    if expect_rc is not None and proc.returncode != expect_rc:
        raise AssertionError(f"{label or path}: ansible-playbook exit {proc.returncode}, expected {expect_rc}; "
                             f"last lines of {log}:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-25:]))
    with open(record) as handle:
        return json.load(handle), seconds


def results(record, action=None, host=None):
    return [r for r in record["results"] if (action is None or r["action"].endswith(action))
            and (host is None or r["host"] == host)]


def items(r):
    """A task's results: each item's of a loop, else its own."""
    return r["result"].get("results") or [r["result"]]


def changed_hosts(record):
    return sorted(h for h, s in record["stats"].items() if s.get("changed"))


def check(name):
    def wrap(fn):
        try:
            fn()
            passed.append(name)
            print(f"fleet: ok    {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, the next check runs
            failed.append(name)
            print(f"fleet: FAIL  {name}\n" + traceback.format_exc(), flush=True)
        return fn
    return wrap


def appliance_file(host, rel):
    return os.path.join(HOSTS[host]["dir"], rel)


def read_json(host, rel, default=None):
    try:
        with open(appliance_file(host, rel)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def state_hashes():
    """SHA-256 of every regular file of every appliance but logs, /run state, the SSH user's
    home (ansible's temporary directories) and the daemon's runtime files."""
    hashes = {}
    for host in NAMES:
        top = HOSTS[host]["dir"]
        for base, dirs, files in os.walk(top):
            rel_base = os.path.relpath(base, top)
            if rel_base.split(os.sep)[0] in ("run", "home") or rel_base.startswith(os.path.join("var", "log")):
                dirs[:] = []
                continue
            for name in files:
                path = os.path.join(base, name)
                if os.path.islink(path) or not os.path.isfile(path) or name == ".session-status":
                    continue
                with open(path, "rb") as handle:
                    hashes[f"{host}:{os.path.join(rel_base, name)}"] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def ssh(host, *words):
    """sensorctl on an appliance over plain ssh (with the test's key and known hosts)."""
    cfg = json.load(open(os.path.join(WORK, "ssh.json")))
    proc = subprocess.run(["ssh", "-F", "none", "-i", cfg["key"], "-o", f"UserKnownHostsFile={cfg['known_hosts']}",
                           "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"cyberx@{HOSTS[host]['address']}",
                           "sensorctl " + " ".join(words)], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


binary_version = json.loads(subprocess.run([BIN, "--root", WORK, "system", "version", "--json"],
                                           capture_output=True, text=True).stdout)["version"]


@check("facts for all five appliances (inventory_report.yml), report on the controller")
def _():
    reports = os.path.join(WORK, "reports")
    record, seconds = playbook(os.path.join(EXAMPLES, "inventory_report.yml"), "-e", f"report_dir={reports}")
    figures["inventory_report_5_seconds"] = round(seconds, 2)
    report = json.load(open(os.path.join(reports, "fleet-inventory.json")))
    assert sorted(report) == NAMES, report
    for host in NAMES:
        entry = report[host]
        assert entry["version"] == binary_version, entry
        assert entry["board"] == "sandbox" and entry["up"] is True and entry["services_not_running"] == 0, entry
        assert entry["management_ip"] == HOSTS[host]["address"], entry
        assert entry["upgrade_state"] == "committed", entry
    facts = results(record, "facts")
    assert sorted(r["host"] for r in facts) == NAMES and not any(r["changed"] for r in facts)
    # One SSH round trip per appliance for the whole inventory.
    assert all(r["result"]["sensorctl_commands"] == 1 for r in facts), [r["result"]["sensorctl_commands"] for r in facts]
    with open(os.path.join(reports, "fleet-inventory.csv")) as handle:
        assert len(handle.read().strip().splitlines()) == 1 + len(NAMES)


@check("the per-appliance cost of one facts call over SSH")
def _():
    host = NAMES[0]
    _, one = playbook(os.path.join(TESTS, "bench_facts.yml"), "-e", f"target={host}", "-e", "facts_calls=1")
    _, many = playbook(os.path.join(TESTS, "bench_facts.yml"), "-e", f"target={host}", "-e", "facts_calls=21")
    figures["facts_call_seconds"] = round((many - one) / 20, 3)
    # And the floor: one sensorctl over a fresh plain ssh connection, no multiplexing.
    started = time.monotonic()
    for _ in range(10):
        rc, out, err = ssh(host, "system", "version", "--json")
        assert rc == 0, err
    figures["plain_ssh_version_seconds"] = round((time.monotonic() - started) / 10, 3)
    _, five = playbook(os.path.join(TESTS, "bench_facts.yml"), "-e", "target=sensors", "-e", "facts_calls=1")
    figures["facts_once_on_5_playbook_seconds"] = round(five, 2)
    figures["facts_once_on_1_playbook_seconds"] = round(one, 2)


baseline_vars = "@" + os.path.join(TESTS, "site-baseline.yml")
UID_BASE = 1879048192  # scripts/run-shell: the sandbox's root outside


def seed_ntp_server(host, server):
    """An appliance set up by hand with an NTP server: written into its config as the sandbox's
    root would (owner and mode kept, replaced by rename)."""
    path = appliance_file(host, "etc/sensorctl/config.json")
    config = read_json(host, "etc/sensorctl/config.json")
    config["ntp_servers"] = [server]
    mode = os.stat(path).st_mode & 0o777
    with open(path + ".seed", "w") as handle:
        json.dump(config, handle, indent=2)
    os.chown(path + ".seed", UID_BASE, UID_BASE)
    os.chmod(path + ".seed", mode)
    os.replace(path + ".seed", path)


seed_ntp_server("sensor-02", "10.254.9.9")


@check("baseline settings applied to all five (baseline.yml), seen in the appliances' files")
def _():
    # sensor-02 has an NTP server the baseline does not declare (an appliance set up by hand).
    record, seconds = playbook(os.path.join(EXAMPLES, "baseline.yml"), "-e", baseline_vars, "--diff")
    figures["baseline_first_run_seconds"] = round(seconds, 2)
    assert changed_hosts(record) == NAMES, record["stats"]
    for host in NAMES:
        config = read_json(host, "etc/sensorctl/config.json")
        assert config.get("login_max_failed") == 7 and config.get("login_lockout_window_s") == 600, config
        limits = {(l["interface"], l["limit"]) for l in config.get("bandwidth_limits", [])}
        assert limits == {("eth0", "2mbit"), ("eth1", "500kbit")}, limits
        assert config.get("ntp_servers", []) == [], config
        props = open(appliance_file(host, "var/cyberx/properties/horizon_parser/horizon.properties")).read()
        assert "src host 10.254.1.9 or src net 10.254.2" in props and "(tcp or udp)" in props, props
        assert "not (tcp port 22)" in props, props
    ntp = [r for r in results(record, "ntp") if r["changed"]]
    assert [r["host"] for r in ntp] == ["sensor-02"] and ntp[0]["result"]["disabled"] == ["10.254.9.9"], ntp
    for r in record["results"]:
        if r["changed"] and r["action"].startswith("sensorctl"):
            assert all("diff" in item for item in items(r) if item.get("changed")), r


@check("the same baseline again reports no change on any appliance")
def _():
    before = state_hashes()
    record, seconds = playbook(os.path.join(EXAMPLES, "baseline.yml"), "-e", baseline_vars)
    figures["baseline_second_run_seconds"] = round(seconds, 2)
    assert changed_hosts(record) == [], record["stats"]
    assert sorted(record["stats"]) == NAMES
    assert state_hashes() == before


@check("check mode with another baseline reports the changes and changes nothing (files hashed)")
def _():
    before = state_hashes()
    record, _ = playbook(os.path.join(EXAMPLES, "baseline.yml"), "-e",
                         "@" + os.path.join(TESTS, "site-baseline-changed.yml"), "--check", "--diff")
    assert changed_hosts(record) == NAMES, record["stats"]
    for action in ("login_protection", "limit", "capture_filter"):
        for r in results(record, action):
            assert r["changed"] and all("diff" in item for item in items(r)), (action, r)
    after = state_hashes()
    assert after == before, sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    # The upgrade and the backup in check mode copy nothing and reboot nothing; the upgrade
    # foretells the third appliance's refusal (another board's package), and stops there.
    record, _ = playbook(os.path.join(EXAMPLES, "rolling_upgrade.yml"), "--check", expect_rc=2)
    upgrades = {r["host"]: r for r in results(record, "upgrade")}
    assert sorted(upgrades) == NAMES[:3], sorted(upgrades)
    assert all(upgrades[h]["changed"] and upgrades[h]["status"] == "ok" for h in NAMES[:2]), upgrades
    assert upgrades[NAMES[2]]["status"] == "failed" and "board" in upgrades[NAMES[2]]["result"]["msg"]
    record, _ = playbook(os.path.join(EXAMPLES, "nightly_backup.yml"), "-e",
                         f"backup_store={os.path.join(WORK, 'check-store')}", "--check")
    assert all(r["changed"] for r in results(record, "backup"))
    assert state_hashes() == before
    assert not os.path.exists(os.path.join(WORK, "check-store"))
    for host in NAMES:
        assert "rebooted" not in open(HOSTS[host]["log"]).read()


@check("failures carry the appliance's message and exit code; command is read-only")
def _():
    before = state_hashes()
    record, _ = playbook(os.path.join(TESTS, "contracts.yml"), "-e", f"target={NAMES[0]}")
    ntp = next(r for r in results(record, "ntp"))
    assert ntp["status"] == "failed" and ntp["result"]["rc"] == 1 and not ntp["changed"], ntp
    assert "not permitted" in ntp["result"]["error"]["message"], ntp["result"]
    assert ntp["result"]["permission_denied"] is False
    refused = [r for r in results(record, "command") if r["status"] == "failed"]
    assert len(refused) == 1 and "not a read-only" in refused[0]["result"]["msg"], refused
    ok = [r for r in results(record, "command") if r["status"] == "ok"]
    assert ok[0]["result"]["json"]["matches"] is True, ok[0]
    assert ok[1]["result"]["rc"] == 1 and ok[1]["result"]["json"] is not None, ok[1]
    assert state_hashes() == before, "a failed or refused command changed something"
    assert "rebooted" not in open(HOSTS[NAMES[0]]["log"]).read()


@check("nightly backup pull: five backups fetched, byte for byte, then nothing to do")
def _():
    store = os.path.join(WORK, "store")
    record, seconds = playbook(os.path.join(EXAMPLES, "nightly_backup.yml"), "-e", f"backup_store={store}")
    figures["nightly_backup_5_seconds"] = round(seconds, 2)
    pulled = {r["host"]: r["result"] for r in results(record, "backup")}
    assert sorted(pulled) == NAMES
    for host, result in pulled.items():
        assert result["created"] and result["fetched"], result
        local = os.path.join(store, host, result["backup"])
        original = appliance_file(host, os.path.join("var/cyberx/backups", result["backup"]))
        data = open(local, "rb").read()
        assert data == open(original, "rb").read(), f"{host}: the fetched file differs from the appliance's"
        assert hashlib.sha256(data).hexdigest() == result["sha256"]
        assert oct(os.stat(local).st_mode & 0o777) == "0o600"
        with tarfile.open(local) as archive:  # GNU-tar-compatible gzip'd tar, read independently
            names = archive.getnames()
        assert names[0] == "SENSORCTL-BACKUP-MANIFEST.jsonl" and names[-1] == "SENSORCTL-BACKUP-HMAC"
        audit = open(appliance_file(host, "var/log/sensorctl/audit.log")).read()
        assert f"action=backup-export target={result['backup']}" in audit, audit[-500:]
    record, _ = playbook(os.path.join(EXAMPLES, "nightly_backup.yml"), "-e", f"backup_store={store}")
    assert changed_hosts(record) == [], record["stats"]
    assert all(not r["result"]["created"] and not r["result"]["fetched"] for r in results(record, "backup"))


@check("rolling upgrade: the wrong-board package fails on the third; 4 and 5 untouched; 1 and 2 committed")
def _():
    # upgrade_package: the good package for the group, the other board's for sensor-03.
    record, seconds = playbook(os.path.join(EXAMPLES, "rolling_upgrade.yml"), expect_rc=2)
    figures["rolling_upgrade_seconds"] = round(seconds, 2)
    upgrades = {r["host"]: r for r in results(record, "upgrade")}
    new = os.environ["FLEET_VERSION_NEW"]
    assert sorted(upgrades) == NAMES[:3], sorted(upgrades)
    for host in NAMES[:2]:
        r = upgrades[host]
        assert r["status"] == "ok" and r["changed"] and r["result"]["version"] == new, r
        figures[f"upgrade_reboot_seconds_{host}"] = r["result"]["reboot_seconds"]
        state = read_json(host, "var/lib/sensorctl/upgrade.json")
        assert state["b"] == new and state["committed"] == "b" and state["pending"] == "", state
        assert os.readlink(appliance_file(host, "opt/sensorctl/current")) == "slot-b"
        assert "rebooted (system reboot): starting it again" in open(HOSTS[host]["log"]).read()
        rc, out, err = ssh(host, "system", "version", "--json")
        assert rc == 0 and json.loads(out)["version"] == new, (out, err)
    third = upgrades[NAMES[2]]
    assert third["status"] == "failed" and third["result"]["rc"] == 1, third
    assert "board" in third["result"]["error"]["message"], third["result"]
    for host in NAMES[2:]:
        assert read_json(host, "var/lib/sensorctl/upgrade.json") is None, f"{host} was touched"
        assert not os.path.exists(appliance_file(host, "opt/sensorctl/current")), host
        assert "rebooted" not in open(HOSTS[host]["log"]).read(), host
        rc, out, err = ssh(host, "system", "version", "--json")
        assert rc == 0 and json.loads(out)["version"] == binary_version, (host, out, err)
    for host in NAMES[3:]:
        assert not results(record, host=host), f"{host} ran tasks after the failure"
    # The batch after the failure never started: 4 and 5 are absent from the recap.
    assert NAMES[3] not in record["stats"] and NAMES[4] not in record["stats"], record["stats"]
    # Again, for the two upgraded: nothing to do.
    record, _ = playbook(os.path.join(EXAMPLES, "rolling_upgrade.yml"), "-e", f"target={NAMES[0]}:{NAMES[1]}")
    assert changed_hosts(record) == [], record["stats"]


@check("an upgrade whose services do not run after the reboot is rolled back, and the task says so")
def _():
    host = NAMES[3]
    # The appliance is healthy now, but its Core API will not start after the reboot (the
    # running one keeps its old image); the start-up check gives up after 3 s, not 120.
    board_path = appliance_file(host, "etc/sensorctl/boards/sandbox.json")
    board = json.load(open(board_path))
    board["upgrade"]["health_grace_s"] = 3
    with open(board_path + ".new", "w") as handle:
        json.dump(board, handle, indent=2)
    os.chown(board_path + ".new", UID_BASE, UID_BASE)
    os.replace(board_path + ".new", board_path)
    service = appliance_file(host, "opt/sim/core-api")
    with open(service + ".new", "wb") as handle:
        handle.write(open("/bin/false", "rb").read())
    os.chmod(service + ".new", 0o755)
    os.chown(service + ".new", UID_BASE, UID_BASE)
    os.replace(service + ".new", service)
    rc, out, _ = ssh(host, "system", "sanity", "--json")
    assert rc == 0 and json.loads(out)["up"], out
    record, seconds = playbook(os.path.join(TESTS, "upgrade_one.yml"), "-e", f"target={host}")
    figures["upgrade_with_rollback_seconds"] = round(seconds, 2)
    r = results(record, "upgrade")[0]
    assert r["status"] == "failed" and r["result"].get("rolled_back") is True, r
    assert "rolled back" in r["result"]["msg"] and r["result"]["version"] == binary_version, r["result"]
    assert r["result"]["sanity"]["up"] is False, r["result"]["sanity"]
    state = read_json(host, "var/lib/sensorctl/upgrade.json")
    assert state["committed"] == "a" and state["pending"] == "" and state["b"] == os.environ["FLEET_VERSION_NEW"], state
    assert os.readlink(appliance_file(host, "opt/sensorctl/current")) == "slot-a"
    assert open(HOSTS[host]["log"]).read().count("rebooted (system reboot): starting it again") == 1
    assert "Rolled back to version" in open(appliance_file(host, "var/log/sensorctl/upgrade.log")).read()


print(f"fleet: {len(passed)} passed, {len(failed)} failed")
with open(os.path.join(WORK, "figures.json"), "w") as handle:
    json.dump(figures, handle, indent=1, sort_keys=True)
for key, value in sorted(figures.items()):
    print(f"fleet: figure {key} = {value}")
sys.exit(1 if failed else 0)

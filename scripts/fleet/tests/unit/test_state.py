import base64
import json
import os

import pytest

from conftest import RECORDED, recorded, recorded_names
from ansible_collections.sensorctl.appliance.plugins.plugin_utils import state


# --- failures: message and exit code as the appliance gave them ---------------------------------

@pytest.mark.parametrize("name", ["denied_limit_list", "denied_login_protection"])
def test_a_denial_is_a_permission_problem_of_the_ssh_users_role(name):
    run = recorded(name)
    assert run["rc"] == 77
    message = state.error_of(run["rc"], run["stdout"], run["stderr"])
    assert message == json.loads(run["stdout"])["error"]["message"]
    err = state.SensorctlError(run["argv"], run["rc"], message, run["stdout"], run["stderr"])
    result = err.result()
    assert result["failed"] and result["permission_denied"] and result["rc"] == 77
    assert "permission denied" in result["msg"] and "role" in result["msg"]
    assert result["error"] == {"code": 77, "message": message}


def test_a_busy_appliance_is_temporary_and_says_why():
    run = recorded("backup_busy")
    assert run["rc"] == state.EXIT_TEMPORARY
    message = state.error_of(run["rc"], run["stdout"], run["stderr"])
    assert "another backup or restore is running" in message
    err = state.SensorctlError(run["argv"], run["rc"], message, attempts=6)
    assert "after 6 attempts" in err.describe() and "(exit 75)" in err.describe()
    # The command's own prefix is not repeated after ours.
    assert "sensorctl: system backup create:" not in err.describe()


@pytest.mark.parametrize("name", ["login_protection_bad", "capture_filter_bad_base", "unknown_command",
                                  "backup_export_missing", "ntp_disable_absent", "cert_show_none"])
def test_every_failure_has_a_one_line_message(name):
    run = recorded(name)
    assert run["rc"] != 0
    message = state.error_of(run["rc"], run["stdout"], run["stderr"])
    assert message and "\n" not in message
    if run["stdout"].startswith("{"):
        assert message == json.loads(run["stdout"])["error"]["message"]
    else:
        assert message in run["stderr"]


# --- read-only commands -------------------------------------------------------------------------

@pytest.mark.parametrize("words,expected", [
    (["system", "version"], ["system", "version", "--json"]),
    (["network", "validate", "--json"], ["network", "validate", "--json"]),
    (["system", "upgrade", "--status"], ["system", "upgrade", "--status", "--json"]),
    (["network", "capture-filter", "--show"], ["network", "capture-filter", "--show", "--json"]),
    (["ping", "10.0.0.1", "-c", "2"], ["ping", "10.0.0.1", "-c", "2"]),
    (["cyberx-xsense-sanity"], ["cyberx-xsense-sanity", "--json"]),
])
def test_read_only_commands_get_json(words, expected):
    assert state.readonly_argv(words) == expected


@pytest.mark.parametrize("words", [
    ["system", "reboot"], ["system", "backup", "create"], ["ntp", "enable", "10.0.0.1"],
    ["system", "login-protection", "--max-failed", "3"], ["system", "login-protection", "--window=60"],
    ["network", "capture-filter"], ["network", "capture-filter", "--show", "--test", "eth1"],
    ["system", "upgrade", "/tmp/p.pkg"], ["system", "upgrade", "--commit"], ["network", "limit", "--interface", "eth0"],
    ["system", "hostname", "new-name"], ["cyberx-xsense-capture-filter", "-p", "all"], ["system", "restore"],
    ["system", "backup", "export", "x.tar"], [], ["system", "version\nreboot"],
])
def test_commands_that_change_anything_are_refused_before_they_are_sent(words):
    with pytest.raises(ValueError):
        state.readonly_argv(words)


# --- NTP ----------------------------------------------------------------------------------------

def test_ntp_plans_from_the_recorded_status():
    current = json.loads(recorded("ntp_status_servers")["stdout"])["servers"]
    assert current == ["10.0.0.1", "192.168.5.5"]
    assert state.plan_ntp(current, ["10.0.0.1"]) == ([], [], current)
    assert state.plan_ntp(current, ["10.0.0.1", "10.0.0.3"]) == ([], ["10.0.0.3"], current + ["10.0.0.3"])
    assert state.plan_ntp(current, ["10.0.0.3"], exclusive=True) == (current, ["10.0.0.3"], ["10.0.0.3"])
    assert state.plan_ntp(current, ["192.168.5.5", "10.9.9.9"], state="absent") == (["192.168.5.5"], [], ["10.0.0.1"])
    empty = json.loads(recorded("ntp_status_empty")["stdout"])["servers"]
    assert state.plan_ntp(empty, [], exclusive=True) == ([], [], [])
    for bad in ["10.0.0.01", "10.0.0", "224.0.0.1", "255.255.255.255", "host.example"]:
        with pytest.raises(ValueError):
            state.plan_ntp(current, [bad])


def test_ntp_disable_as_recorded_names_the_server():
    run = recorded("ntp_disable")
    assert run["rc"] == 0 and "192.168.5.5" in run["stdout"]


# --- Login protection ---------------------------------------------------------------------------

def test_login_protection_sets_only_what_differs():
    shown = json.loads(recorded("login_protection_show")["stdout"])
    assert state.plan_login_protection(shown, shown["max_failed"], shown["window_s"]) == (
        [], {"max_failed": shown["max_failed"], "window_s": shown["window_s"]})
    options, after = state.plan_login_protection(shown, 7, 600)
    assert options == ["--max-failed", "7", "--window", "600"]
    # What the binary reported after exactly those options is the plan's "after".
    set_run = recorded("login_protection_set")
    assert set_run["argv"][2:-1] == options
    reported = json.loads(set_run["stdout"])
    assert {"max_failed": reported["max_failed"], "window_s": reported["window_s"]} == after
    assert state.plan_login_protection(reported, 7, None) == ([], after)
    with pytest.raises(ValueError):
        state.plan_login_protection(shown, 0, None)


# --- Bandwidth limits ---------------------------------------------------------------------------

def test_limits_compare_by_bytes_per_second_as_the_appliance_stores_them():
    listed = json.loads(recorded("limit_list_one")["stdout"])
    stored = listed[0]
    assert (stored["interface"], stored["limit"]) == ("fxa0", "2mbit")
    assert state.rate_bytes("2mbit") == stored["bytes_per_second"]
    # The same limit in other units is no change; another is one.
    assert state.plan_limit(listed, "fxa0", "250kbps") == (None, stored)
    assert state.plan_limit(listed, "fxa0", "2000kbit")[0] is None
    assert state.plan_limit(listed, "fxa0", "3mbit")[0] == ["--interface", "fxa0", "--limit", "3mbit"]
    # Every unit the binary stored agrees with ours.
    for name in ("limit_list_one", "limit_list_same_rate"):
        for entry in json.loads(recorded(name)["stdout"]):
            assert state.rate_bytes(entry["limit"]) == entry["bytes_per_second"], entry
    empty = json.loads(recorded("limit_list_empty")["stdout"])
    assert state.plan_limit(empty, "fxa0", state="absent") == (None, None)
    assert state.plan_limit(listed, "fxa0", state="absent")[0] == ["--interface", "fxa0", "--clear"]
    assert json.loads(recorded("limit_list_cleared")["stdout"]) == []
    for bad in ["2Mbit", "2.5mbit", "0kbit", "1gbit", "100001mbit", "-1"]:
        with pytest.raises(ValueError):
            state.plan_limit(listed, "fxa0", bad)
    with pytest.raises(ValueError):
        state.plan_limit(listed, "eth0; reboot", "1mbit")


# --- Capture filters ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", recorded_names("capture_filter_") and [
    n for n in recorded_names("capture_filter_") if "steps" in recorded(n)])
def test_the_expressions_are_the_ones_the_binary_stored(name):
    case = recorded(name)
    expected = {c: "" for c in state.COMPONENTS}
    for step, applied in zip(case["steps"], case["applied"]):
        request = state.CaptureRequest(**step)
        assert applied["rc"] == 0
        assert applied["argv"] == request.argv(*[a for a in (
            next((applied["argv"][i + 1] for i, w in enumerate(applied["argv"]) if w == "-i"), None),
            next((applied["argv"][i + 1] for i, w in enumerate(applied["argv"]) if w == "-x"), None))])
        expected.update(request.expressions())
    shown = json.loads(case["show"]["stdout"])
    assert state.current_filters(shown) == expected
    # And the last step, declared again, is no change.
    last = state.CaptureRequest(**case["steps"][-1])
    changes, before, after = state.plan_capture_filter(shown, last)
    assert changes == {} and before == after


def test_a_change_names_the_components_and_their_expressions():
    shown = json.loads(recorded("capture_filter_show_default")["stdout"])
    case = recorded("capture_filter_devices_all_connected")
    request = state.CaptureRequest(**dict(case["steps"][0], program="horizon"))
    changes, before, after = state.plan_capture_filter(shown, request)
    assert list(changes) == ["horizon"] and before == {"horizon": ""}
    stored = state.current_filters(json.loads(case["show"]["stdout"]))
    assert after == {"horizon": stored["horizon"]} and stored["horizon"]


@pytest.mark.parametrize("kwargs", [
    {"include": ["10.0.0.256"]}, {"include": ["10.0.0.05"]}, {"include": ["10.0.0.5,10.0.0.9,443"]},
    {"exclude": ["10.0.0.5,10.0.1"]}, {"include": ["10.0"]}, {"include_tcp_ports": [70000]}, {"vlan": 4096},
    {"mode": "everything"}, {"program": "tcpdump"}, {"base_filters": {"dissector": "tcp"}},
    {"base_filters": {"horizon": "tcp\nor udp"}},
])
def test_bad_declarations_are_refused_on_the_controller(kwargs):
    with pytest.raises(ValueError):
        state.CaptureRequest(**kwargs)


# --- Backups ------------------------------------------------------------------------------------

def _exported():
    run = recorded("backup_export")
    assert run["rc"] == 0
    return base64.b64decode("".join(run["stdout"].split()), validate=True)


def test_an_exported_backup_verifies_against_its_manifest():
    data = _exported()
    listed = json.loads(recorded("backup_list_one")["stdout"])[0]
    assert len(data) == listed["size"] and listed["verified"] == "ok"
    summary = state.verify_backup(data)
    assert summary["files_checked"] >= 3 and summary["board"] == listed["board"]
    assert summary["product_version"] == listed["version"]
    assert state.finished_backup_name(recorded("backup_create")["stdout"]) == listed["name"]


def test_a_damaged_or_short_backup_is_refused():
    data = _exported()
    for cut in (1, 100, len(data) // 2):
        with pytest.raises(state.BackupInvalid):
            state.verify_backup(data[:-cut])
    # A changed byte inside the compressed data: gzip's CRC or the manifest's SHA-256 says so.
    refused = 0
    for at in range(200, len(data) - 200, max(1, len(data) // 40)):
        damaged = bytearray(data)
        damaged[at] ^= 0x40
        try:
            state.verify_backup(bytes(damaged))
        except state.BackupInvalid:
            refused += 1
    assert refused == len(range(200, len(data) - 200, max(1, len(data) // 40)))


def test_which_backup_to_fetch():
    listed = json.loads(recorded("backup_list_one")["stdout"])
    newest = listed[0]
    assert state.backup_to_fetch([], 0, 3600) == (True, None)
    assert state.backup_to_fetch(listed, newest["epoch_ms"] + 1000, 3600) == (False, newest)
    assert state.backup_to_fetch(listed, newest["epoch_ms"] + 3601 * 1000, 3600) == (True, None)
    assert state.backup_to_fetch(listed, newest["epoch_ms"], 0) == (True, None)
    assert state.backup_to_fetch(listed, 0, 0, name=newest["name"]) == (False, newest)
    with pytest.raises(ValueError):
        state.backup_to_fetch(listed, 0, 0, name="other.tar")


# --- Upgrades -----------------------------------------------------------------------------------

def test_the_package_manifest_is_read_from_a_recorded_package():
    manifest = state.package_manifest(os.path.join(RECORDED, "package-9.1.0.pkg"))
    assert manifest["version"] == "9.1.0" and "fixture" in manifest["boards"]
    with pytest.raises(ValueError):
        state.package_manifest(os.path.join(RECORDED, "version.json"))


def test_upgrade_outcomes_from_recorded_statuses():
    committed = recorded("upgrade_committed")
    pending = json.loads(committed["status_pending"]["stdout"])
    assert state.upgrade_outcome(pending, "9.1.0") == "pending"
    done = json.loads(committed["status_committed"]["stdout"])
    assert state.upgrade_outcome(done, "9.1.0") == "committed"
    rolled = recorded("upgrade_rolled_back")
    back = json.loads(rolled["status_rolled_back"]["stdout"])
    assert state.upgrade_outcome(back, "9.1.0") == "rolled-back"
    factory = json.loads(recorded("upgrade_status_factory")["stdout"])
    assert state.upgrade_outcome(factory, "9.1.0") == "rolled-back"  # not the target: the module upgrades
    # A refusal changes nothing and says why.
    refused = committed["refused_wrong_board"]
    assert refused["rc"] == 1 and "board" in state.error_of(1, refused["stdout"], refused["stderr"])
    assert committed["again_same_version"]["rc"] == 1


def test_versions_compare_as_numbers():
    assert state.version_key("0.10.0") > state.version_key("0.9.9")
    assert state.version_key("0.1.0-ab18c83") == (0, 1, 0)

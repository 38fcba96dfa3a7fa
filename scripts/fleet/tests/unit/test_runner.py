"""The runner's batch (one remote shell for several commands) against a batch recorded through
/bin/sh and the real binary."""

from conftest import recorded
from ansible_collections.sensorctl.appliance.plugins.plugin_utils import base, state


def test_a_batch_splits_into_each_commands_exit_output_and_error():
    batch = recorded("batch")
    raw = batch["raw"]
    results = base.split_batch(raw["stdout"], raw["stderr"], len(batch["commands"]))
    assert [list(r) for r in results] == batch["results"]
    by_command = dict(zip((" ".join(c) for c in batch["commands"]), results))
    rc, out, err = by_command["system version --json"]
    assert rc == 0 and state.parse_json(["system", "version"], out)["version"]
    rc, out, err = by_command["cert show --json"]
    assert rc == 1 and "no active certificate" in state.error_of(rc, out, err)
    rc, out, err = by_command["system sanity --json"]
    assert rc == 1 and state.parse_json(["system", "sanity"], out)["up"] is False
    rc, out, err = by_command["system no-such-command --json"]
    assert rc == 2 and "unknown command" in state.error_of(rc, out, err)
    rc, out, err = by_command["network capture-filter --show --json"]
    assert rc == 0 and len(state.current_filters(state.parse_json([], out))) == len(state.COMPONENTS)


def test_a_batch_cut_short_is_noticed():
    batch = recorded("batch")
    raw = batch["raw"]
    cut = raw["stdout"][: raw["stdout"].rindex("\x1eE")]
    results = base.split_batch(cut, raw["stderr"], len(batch["commands"]))
    assert results[-1] is None and results[0] is not None

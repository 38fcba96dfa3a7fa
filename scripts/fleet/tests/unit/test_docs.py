"""Every module's documentation block is what ansible-doc reads, and its options are exactly
the arguments its action plugin checks (names, types, defaults, choices)."""

import importlib
import json
import os
import subprocess
import sys

import pytest

from conftest import FLEET

COLLECTION = os.path.join(FLEET, "ansible_collections", "sensorctl", "appliance")
MODULES = sorted(n[:-3] for n in os.listdir(os.path.join(COLLECTION, "plugins", "modules")) if n.endswith(".py"))


def ansible_doc(name):
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
    env["ANSIBLE_COLLECTIONS_PATH"] = FLEET
    doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    proc = subprocess.run([doc, "-t", "module", "--json", f"sensorctl.appliance.{name}"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[f"sensorctl.appliance.{name}"]


def test_every_module_has_an_action_plugin_and_the_reverse():
    actions = sorted(n[:-3] for n in os.listdir(os.path.join(COLLECTION, "plugins", "action")) if n.endswith(".py"))
    assert actions == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_the_argument_spec(name):
    doc = ansible_doc(name)
    assert doc["doc"]["short_description"] and doc["examples"] and doc["return"] is not None
    action = importlib.import_module(f"ansible_collections.sensorctl.appliance.plugins.action.{name}")
    spec = action.ActionModule.ARGUMENT_SPEC
    options = doc["doc"].get("options") or {}
    assert sorted(options) == sorted(spec), name
    for option, rules in spec.items():
        documented = options[option]
        assert documented.get("type", "str") == rules.get("type", "str"), (name, option)
        assert documented.get("required", False) == rules.get("required", False), (name, option)
        if "default" in rules:
            assert documented.get("default") == rules["default"], (name, option)
        if "choices" in rules:
            assert documented.get("choices") == rules["choices"], (name, option)
        if "elements" in rules:
            assert documented.get("elements") == rules["elements"], (name, option)

"""The collection's unit tests: its parsing, planning and diff logic against what the real
binary printed (fixtures/recorded, written by scripts/fleet/record-fixtures, never by hand)."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.dirname(os.path.dirname(HERE))
RECORDED = os.path.join(os.path.dirname(HERE), "fixtures", "recorded")
sys.path.insert(0, FLEET)


def recorded(name):
    path = os.path.join(RECORDED, name + ".json")
    if not os.path.exists(path):
        pytest.fail(f"no fixture {name}: run scripts/fleet/record-fixtures")
    with open(path) as handle:
        return json.load(handle)


def recorded_names(prefix):
    return sorted(n[:-5] for n in os.listdir(RECORDED) if n.startswith(prefix) and n.endswith(".json"))


@pytest.fixture
def fixture():
    return recorded

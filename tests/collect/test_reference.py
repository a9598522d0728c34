"""The collector writes today's stores, byte for byte (reference_stores.py says how they were
recorded, and why as hashes)."""

from __future__ import annotations

import json

import pytest

from actor_mimic.collect import collect
from tests.collect.reference_stores import REFERENCE_FILE, environment, reference_configs, store_hashes

REFERENCE = json.loads(REFERENCE_FILE.read_text())


@pytest.mark.parametrize("name", sorted(REFERENCE["stores"]))
def test_a_collection_stores_the_recorded_bytes(tmp_path, name):
    if environment() != REFERENCE["environment"]:
        pytest.skip(f"recorded with {REFERENCE['environment']}, this machine has {environment()}")
    expected = REFERENCE["stores"][name]
    got = store_hashes(collect(reference_configs(tmp_path)[name]))
    assert got["commit"] == expected["commit"]
    for lane, (got_arrays, expected_arrays) in enumerate(zip(got["lanes"], expected["lanes"])):
        differ = sorted(key for key in expected_arrays if got_arrays.get(key) != expected_arrays[key])
        assert not differ, f"lane {lane}: {differ} differ from the recorded store"

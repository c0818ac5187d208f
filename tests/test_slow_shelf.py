"""Slow tests: prepare the whole offline shelf from its pinned wheels, then prove every conversion's fidelity
(see shared/shelf_fidelity.py for what each check measures)."""

from __future__ import annotations

import time

import pytest

from shared import shelf
from tasks.registry import all_tasks

all_tasks()  # the whole shelf: every task registers the entries it builds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared_shelf(shelf_home, in_shelf_home):
    with in_shelf_home():
        started = time.perf_counter()
        for name in shelf.SHELF:
            shelf.prepare(name)
        print(f"prepare --all: {time.perf_counter() - started:.0f} s")
    return shelf_home


@pytest.mark.parametrize("name", [n for n, e in shelf.SHELF.items() if e.fidelity])
def test_conversion_fidelity(name, prepared_shelf, monkeypatch):
    monkeypatch.setenv("OMNITUNE_HOME", prepared_shelf)
    assert shelf.verify(name) == []
    fidelity = shelf.check_fidelity(name)
    print(name, fidelity)
    assert fidelity.passed, fidelity


def test_every_entry_reports_size_and_parameters(prepared_shelf, monkeypatch):
    monkeypatch.setenv("OMNITUNE_HOME", prepared_shelf)
    for name in shelf.SHELF:
        row = shelf.describe(name)
        assert row["prepared"] and row["size_mb"] > 1 and row["parameters"] > 1e6, row

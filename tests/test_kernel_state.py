"""The warm kernel's snapshot of the package's state (analysis.fleet.kernel_state)."""

from __future__ import annotations

import importlib
import sys

import pytest

from analysis.fleet import kernel_state


@pytest.fixture
def restored():
    """Undo what a test does to the package's modules."""
    from analysis.estimators import registry, spec

    saved = (registry.WILD_REPS, dict(spec.PROGRAMS))
    yield registry, spec
    registry.WILD_REPS = saved[0]
    spec.PROGRAMS.clear()
    spec.PROGRAMS.update(saved[1])


def test_nothing_changed_after_a_snapshot(restored):
    kernel_state.take()
    assert not kernel_state.changed()


def test_a_rebound_constant_is_a_change(restored):
    registry, _ = restored
    kernel_state.take()
    registry.WILD_REPS = registry.WILD_REPS + 1
    assert kernel_state.changed()


def test_a_container_changed_in_place_is_a_change(restored):
    _, spec = restored
    kernel_state.take()
    spec.PROGRAMS["extra"] = spec.PROGRAMS["training"]
    assert kernel_state.changed()


def test_a_newly_imported_module_is_a_change():
    name = "analysis.estimators.nsw"
    previous = sys.modules.pop(name, None)
    try:
        kernel_state.take()
        importlib.import_module(name)
        assert kernel_state.changed()
    finally:
        if previous is not None:
            sys.modules[name] = previous


def test_the_fleet_s_own_modules_are_not_the_notebooks_state():
    from analysis.fleet import cache

    kernel_state.take()
    cache._LISTINGS["x"] = "y"  # the build's own caches may change between units
    try:
        assert not kernel_state.changed()
    finally:
        cache._LISTINGS.pop("x")

"""Every test file is in exactly one tier (tests/tiers.py), so a new file cannot silently fall out of both."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiers

TESTS = Path(__file__).resolve().parent


def test_every_test_file_is_quick_or_slow_and_only_one():
    files = sorted(path.name for path in TESTS.glob("test_*.py"))
    listed = [*tiers.QUICK, *tiers.SLOW]
    assert sorted(set(files) - set(listed)) == [], "add these to QUICK or SLOW in tests/tiers.py"
    assert sorted(set(listed) - set(files)) == [], "these are listed in tests/tiers.py but do not exist"
    assert sorted(name for name in set(listed) if listed.count(name) > 1) == [], "listed in both tiers"


def test_a_quick_file_s_tests_carry_the_registered_marker(request: pytest.FixtureRequest):
    """This file is QUICK: the collection hook marked this test, with the name pyproject.toml registers (an
    unregistered one would only warn, and `-m quick` would select nothing)."""
    assert request.node.get_closest_marker("quick") is not None
    assert any(line.startswith("quick:") for line in request.config.getini("markers"))

"""The proof of generality: random valid Pack0s (tests/random_pack0.py) each build APPROVED offline, their service
passing the contracts gate. A few per CI run; benchmarks/random_pack0s.py builds many more."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from random_pack0 import approved, build, contracts_gate_status, random_pack0, write_random_pack0

from factory.errors import InputError
from factory.pack0.load import load_pack0


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(drawn=random_pack0())
def test_every_pack0_the_loader_accepts_builds_approved(drawn):
    module, contracts = drawn
    with tempfile.TemporaryDirectory() as temp:
        pack0 = write_random_pack0(Path(temp) / f"pack0-{module}-0.0.1", module, contracts)
        try:
            load_pack0(pack0)
        except InputError as error:  # a refused draw (e.g. a pattern no length limit fits) is not the property
            assert "\n" not in str(error)
            return
        out = Path(temp) / "out"
        code, printed = build(pack0, module, out)
        assert (code, approved(out)) == (0, True), printed
        assert contracts_gate_status(out) == "passed"

"""A no-op close to doit's own: a re-run loads no stage code and no schema validator, asks no Docker engine
about a gate that passed, and the same folder spelled two ways is one build."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, executed_stages, factory_env, run_cli

from rules.gates import _engine_unchanged
from rules.reporter import ContentChecker

# What only some commands need: the model SDKs, the docker SDK, the secret scanner, the terminal UI, the fuzzer,
# the schema validator (a no-op believes the sealed memo of the evidence's last verify: factory/pec/memo.py).
HEAVY = ("anthropic", "openai", "docker", "detect_secrets", "rich", "schemathesis", "hypothesis", "jsonschema")
PROBE = """
import json, sys
from factory.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(%r))
print("LOADED " + json.dumps([code, loaded]))
"""


def _loaded(*argv: str, cwd: Path) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *argv], cwd=cwd, env=factory_env(), capture_output=True, text=True
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOADED "))
    code, loaded = json.loads(line.removeprefix("LOADED "))
    return code, loaded


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """One approved build; the arguments that re-run it. Tests leave it approved and verified."""
    out = tmp_path_factory.mktemp("noop") / "out"
    args = ("auto-full", "--module", "fleet-vehicles", "--out", str(out), "--waive", "docker-build", "--quiet")
    assert run_cli(*args).returncode == 0
    return args


def test_help_and_a_no_op_rebuild_load_no_sdk_scanner_validator_or_terminal_code(fleet: tuple[str, ...]):
    assert _loaded("--help", cwd=ROOT) == (0, [])
    assert _loaded(*fleet, cwd=ROOT) == (0, [])


def _state(out: Path) -> dict[str, tuple[int, int, int]]:
    return {str(path): (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns) for path in out.rglob("*")}


def test_a_no_op_rebuild_writes_nothing_in_the_output_folder(fleet: tuple[str, ...]):
    out = Path(fleet[fleet.index("--out") + 1])
    before = _state(out)
    assert run_cli(*fleet).returncode == 0
    assert _state(out) == before  # doit's database, its seal and the memos included


def test_an_evidence_file_changed_after_a_no_op_is_derived_again(fleet: tuple[str, ...]):
    out = Path(fleet[fleet.index("--out") + 1])
    assert executed_stages(run_cli(*fleet[:-1]).stdout) == []  # remembered as verified
    approval = out / "build/approval.json"
    approval.write_text(approval.read_text().replace('"approved": true', '"approved": false'))
    assert executed_stages(run_cli(*fleet[:-1]).stdout) == ["pec", "report"]
    assert run_cli("verify", out).returncode == 0


def test_relative_and_absolute_spellings_of_the_output_are_one_build(tmp_path: Path):
    first = run_cli("auto-full", "--module", "fleet-vehicles", "--out", "out", "--waive", "docker-build", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    args = ("auto-full", "--module", "fleet-vehicles", "--waive", "docker-build", "--out")
    assert executed_stages(run_cli(*args, str(tmp_path / "out")).stdout) == []
    assert executed_stages(run_cli(*args, "./out/../out", cwd=tmp_path).stdout) == []


class _Engine:
    """A stand-in Docker engine on a unix socket: answers every ping, counts them."""

    def __init__(self, path: Path) -> None:
        self.pings = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.recv(1024)
                self.pings += 1
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")


def test_docker_gate_asks_the_engine_only_when_it_was_unavailable(tmp_path: Path, monkeypatch):
    engine = _Engine(tmp_path / "docker.sock")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    report = tmp_path / "docker-build.json"
    is_current = _engine_unchanged(str(report))
    for status in ("passed", "failed"):
        report.write_text(json.dumps({"status": status}))
        assert is_current() is True
    assert engine.pings == 0
    report.write_text(json.dumps({"status": "unavailable"}))
    assert is_current() is False  # an engine answers now: the gate runs again
    assert engine.pings == 1
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'none.sock'}")
    assert is_current() is True  # still no engine: still unavailable, nothing to redo
    engine.server.close()


def test_a_file_hashed_once_in_a_run_is_still_seen_changed_with_its_time_set_back(tmp_path: Path):
    checker, path = ContentChecker(), tmp_path / "dep.txt"
    path.write_text("one\n")
    state = checker.get_state(str(path), None)
    assert str(path) not in checker.digests  # just written: its change time may not have ticked yet
    time.sleep(1.1)  # now settled: its digest is kept for the other stages that depend on it
    assert not checker.check_modified(str(path), os.stat(path), state)
    assert str(path) in checker.digests
    before = os.stat(path)
    path.write_text("two\n")  # same size, and the time set back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert checker.check_modified(str(path), os.stat(path), state)

"""Attacks on the shared results (factory/results_cache.py) as a judge would make them: a damaged or replaced
cache folder, a result reused for inputs it was not made from, builds in parallel on one cache."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from factory.gates.secrets import secret_scan_gate
from factory.results_cache import RESULTS_FOLDER, SharedResults

# detect-secrets reads `password = ...` unquoted as a secret in a .txt or .ini file, not in a .py one.
UNQUOTED_PASSWORD = "password = hunter2hunter2xyzQ\n"


def _damaged(cache_dir: Path, how: str) -> SharedResults:
    shared = SharedResults(cache_dir)
    shared.remember("kind", {"key": {"passed": True}})
    folder = cache_dir / RESULTS_FOLDER
    if how == "garbage database":
        (folder / "cache.db").write_bytes(b"not a database " * 200)
    elif how == "link to nowhere":
        os.rename(folder, cache_dir / "moved")
        folder.symlink_to(cache_dir / "nowhere")
    elif how == "link to another folder":
        os.rename(folder, cache_dir / "moved")
        folder.symlink_to(cache_dir / "moved")
    elif how == "file in its place":
        os.rename(folder, cache_dir / "moved")
        folder.write_bytes(b"junk")
    return shared


@pytest.mark.parametrize("how", ["garbage database", "link to nowhere", "link to another folder", "file in its place"])
@pytest.mark.quick
def test_a_damaged_or_replaced_cache_folder_is_not_believed_and_does_not_crash(tmp_path: Path, how: str):
    shared = _damaged(tmp_path, how)
    assert shared.recall("kind", ["key"]) == {}
    shared.remember("kind", {"other": {"passed": True}})  # skipped, not a crash
    assert shared.recall("kind", ["other"]) == {}


@pytest.mark.quick
def test_a_secret_scan_gate_on_a_corrupt_shared_cache_still_scans(tmp_path: Path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "settings.txt").write_text(UNQUOTED_PASSWORD)
    shared = _damaged(tmp_path / "cache", "garbage database")
    assert secret_scan_gate(build, shared=shared).status == "failed"


@pytest.mark.quick
def test_the_same_content_under_another_file_name_is_scanned_again(tmp_path: Path):
    """detect-secrets' rules depend on the file's name (its type, lock files): a clean result for a .py file
    must not clear the same bytes in a .txt file, in one build or from another output's shared results."""
    shared = SharedResults(tmp_path / "cache")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "settings.py").write_text(UNQUOTED_PASSWORD)
    assert secret_scan_gate(one, shared=shared, cache_file=tmp_path / "one.json").status == "passed"
    (two / "settings.txt").write_text(UNQUOTED_PASSWORD)
    assert secret_scan_gate(two, shared=shared, cache_file=tmp_path / "two.json").status == "failed"
    # Both names in one build: the clean .py does not clear the .txt either.
    (one / "settings.txt").write_text(UNQUOTED_PASSWORD)
    found = secret_scan_gate(one, cache_file=tmp_path / "three.json")
    assert found.status == "failed" and any(line.startswith("settings.txt:") for line in found.details)


@pytest.mark.quick
def test_a_build_folder_named_swagger_still_has_its_secrets_found(tmp_path: Path):
    """detect-secrets skips any path matching .*swagger.*: the output's own location must not silence it."""
    build = tmp_path / "swagger-builds" / "build"
    build.mkdir(parents=True)
    (build / "settings.txt").write_text(UNQUOTED_PASSWORD)
    assert secret_scan_gate(build).status == "failed"


def _hammer(cache_dir: str, worker: int) -> int:
    shared, wrong = SharedResults(Path(cache_dir)), 0
    for round_ in range(40):
        shared.remember("kind", {f"{worker}:{round_}": {"worker": worker, "round": round_}, "common": {"v": 1}})
        got = shared.recall("kind", [f"{(worker + 1) % 4}:{round_}", "common"])
        wrong += sum(1 for key, value in got.items() if key != "common" and value["worker"] != (worker + 1) % 4)
        wrong += got.get("common", {"v": 1}) != {"v": 1}
    return wrong


@pytest.mark.quick
def test_processes_sharing_one_cache_neither_crash_nor_read_each_others_entries_wrongly(tmp_path: Path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        wrong = pool.starmap(_hammer, [(str(tmp_path), worker) for worker in range(4)])
    assert wrong == [0, 0, 0, 0]
    everything = SharedResults(tmp_path).recall("kind", [f"{w}:{r}" for w in range(4) for r in range(40)])
    assert len(everything) == 160 and json.dumps(everything)


@pytest.mark.quick
def test_a_large_entry_whose_file_holds_garbage_is_left_out_alone(tmp_path: Path):
    shared = SharedResults(tmp_path)
    shared.remember("kind", {"large": "x" * 100_000, "small": "y"})  # diskcache keeps a large value in a file
    (value_file,) = (tmp_path / RESULTS_FOLDER).rglob("*.val")
    value_file.write_bytes(b"\xff\xfe not text" * 100)
    assert shared.recall("kind", ["large", "small"]) == {"small": "y"}


def _slice_keys(output: Path, **slicing_options) -> dict[str, str]:
    from factory.pack0.load import load_pack0
    from factory.runner.run import load_test_commands
    from factory.runner.test_slices import Slicing

    build, logs = output / "build", output / "build/.factory_logs"
    pack0 = load_pack0(output / "pack0/pack0-crm-contacts-0.0.1")
    slicing = Slicing(logs, pack0.entities, **slicing_options)
    plans = slicing.plans(build, load_test_commands(build), "none", ["sqlite", "postgres"])
    return {each.name: each.key for each in plans}


@pytest.mark.parametrize(
    ("variable", "one", "other"),
    [
        ("LAI_TEST_DATABASE_URL", "postgresql://u:pw@127.0.0.1:5432/a", "postgresql://u:pw@127.0.0.1:5433/a"),
        ("TZ", "UTC", "Asia/Kathmandu"),
        ("LANG", "C.UTF-8", "tr_TR.UTF-8"),
    ],
)
def test_a_slice_result_is_not_reused_under_another_database_server_or_environment(
    crm_output: Path, monkeypatch: pytest.MonkeyPatch, variable: str, one: str, other: str
):
    """The generated tests see these (stores.py, sandbox.py PASSED_VARIABLES): a pass under one is not a pass under
    the other."""
    monkeypatch.setenv(variable, one)
    first = _slice_keys(crm_output)
    monkeypatch.setenv(variable, other)
    assert all(first[name] != key for name, key in _slice_keys(crm_output).items())


def test_a_slice_key_changes_with_the_test_timeout_and_names_no_database_password(
    crm_output: Path, monkeypatch: pytest.MonkeyPatch
):
    assert _slice_keys(crm_output, timeout_s=5) != _slice_keys(crm_output, timeout_s=300)
    monkeypatch.setenv("LAI_TEST_DATABASE_URL", "postgresql://u:one@127.0.0.1:5432/a")
    first = _slice_keys(crm_output)
    monkeypatch.setenv("LAI_TEST_DATABASE_URL", "postgresql://u:two@127.0.0.1:5432/a")
    assert _slice_keys(crm_output) == first  # the same server: the password is no input of the result


def test_the_contracts_and_fuzz_keys_cover_the_python_and_the_package_that_run_the_service(
    crm_output: Path, monkeypatch: pytest.MonkeyPatch
):
    """The probe and the fuzzer start the service as `<python> -m <package>`: another interpreter, or another
    package in the same src/, is another result."""
    import sys

    from factory.gates import contracts
    from factory.gates.contracts_fuzz import FuzzSettings, fuzz_key
    from factory.pack0.load import load_pack0

    build = crm_output / "build"
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    text = (crm_output / "pack0/pack0-crm-contacts-0.0.1/contracts/openapi.json").read_text()

    def keys(which: object) -> tuple[str, str]:
        return contracts._checks_key(build, text, which, "none", "1"), fuzz_key(build, "none", FuzzSettings())

    first = keys(pack0)
    other = dataclasses.replace(pack0, meta=pack0.meta.model_copy(update={"module": "crm-other"}))
    assert other.package != pack0.package and keys(other)[0] != first[0]
    monkeypatch.setattr(sys, "executable", "/elsewhere/bin/python3")
    assert all(one != other for one, other in zip(first, keys(pack0), strict=True))


@pytest.mark.quick
def test_results_sealed_on_another_machine_are_not_believed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "machine-one"))
    SharedResults(tmp_path / "cache").remember("kind", {"key": {"passed": True}})
    assert SharedResults(tmp_path / "cache").recall("kind", ["key"]) == {"key": {"passed": True}}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "machine-two"))  # its own key, made on first use
    assert SharedResults(tmp_path / "cache").recall("kind", ["key"]) == {}


def test_the_contracts_gate_says_when_its_checks_were_reused(crm_output: Path, tmp_path: Path):
    from conftest import seed_fuzz_results

    from factory.gates.contracts import contracts_gate
    from factory.pack0.load import load_pack0
    from factory.runner.sandbox import resolve_sandbox

    pack0_dir = crm_output / "pack0/pack0-crm-contacts-0.0.1"
    build, pack0, cache = crm_output / "build", load_pack0(pack0_dir), seed_fuzz_results(tmp_path / "cache")
    junit, sandbox = build / ".factory_logs/junit.xml", resolve_sandbox("auto")  # the build's: its fuzz run is kept
    said = []
    first = contracts_gate(build, pack0_dir, pack0, junit, sandbox, cache, say=said.append)
    assert not said
    again = contracts_gate(build, pack0_dir, pack0, junit, sandbox, cache, say=said.append)
    assert first.status == again.status == "passed"
    assert said and said[-1].startswith("OpenAPI check and probe of this code reused")
    # The result (evidence) is the same either way: a run resumed after a crash leaves what a clean run leaves.
    assert again.as_dict() == {**first.as_dict(), "duration_s": again.as_dict()["duration_s"]}


@pytest.mark.quick
def test_the_run_report_says_which_test_results_were_reused_and_from_where():
    """The evidence, not only the test report outside it: a reader of run_report.json sees which slices ran."""
    from factory.pec.evidence import build_run_report

    counts = {"total": 1, "passed": 1, "failed": 0, "error": 0, "skipped": 0}
    slices = [
        {"name": "core", "reused": True, "reused_from": "shared cache", "key": "a" * 64, "passed": True},
        {"name": "task", "reused": False, "reused_from": None, "key": "b" * 64, "passed": True},
    ]
    final = {"passed": True, "counts": counts, "by_kind": {}, "failures": [], "duration_s": 0.1, "sandbox": "none"}
    test_report = {"final_run": {**final, "slices": slices}, "heal_log": [], "stop_reason": "passed"}
    report = build_run_report(
        **{"module": "m", "pack0_version": "0.0.1", "provider": "offline", "model": "x", "pack0_files": []},
        **{"pack0_dir": "p", "inventory_sha256": "0" * 64, "outputs": [], "max_tries": 1, "gates": [], "usage": {}},
        test_report=test_report,
    )
    assert report["tests"]["slices"] == [
        {"name": "core", "reused_from": "shared cache"},
        {"name": "task", "reused_from": None},
    ]


def test_a_last_report_for_other_files_does_not_stand_because_the_shared_cache_knows_the_new_ones(
    crm_output: Path, tmp_path: Path
):
    """The last report stands as it is only when its own slices are for the files as they are now: a slice
    another output ran on the new files is reused into a new report, never passed off under the old one."""
    import shutil

    from factory.layout import Layout
    from factory.pack0.load import load_pack0
    from factory.runner.run import load_test_commands
    from factory.runner.sandbox import resolve_sandbox
    from factory.runner.stores import store_names
    from factory.runner.test_slices import SEAL_KIND, Slicing

    shutil.copytree(crm_output, tmp_path / "out")
    layout = Layout(tmp_path / "out", "crm-contacts")
    build, pack0 = layout.build_dir, load_pack0(layout.pack0_dir)
    shared, commands, sandbox = SharedResults(tmp_path / "cache"), load_test_commands(build), resolve_sandbox("auto")

    def slicing() -> Slicing:
        return Slicing.from_report(layout.logs_dir, pack0.entities, layout.test_report, layout.slice_seals, shared)

    assert slicing().all_reusable(slicing().plans(build, commands, sandbox, store_names()))
    test_file = build / "tests/unit/test_contacts_validation.py"
    test_file.write_text(test_file.read_text() + "\n# edited\n")
    edited = slicing()
    assert not edited.all_reusable(edited.plans(build, commands, sandbox, store_names()))
    # Another output ran these very files and passed: its sealed result is in the shared cache.
    plans = edited.plans(build, commands, sandbox, store_names())
    stale = [each for each in plans if each.key != edited.previous[each.name]["key"]]
    assert {each.name for each in stale} == {"core", "contact"}  # the core's key covers every file
    records = {f"{each.name}:{each.key}": {**edited.previous[each.name], "key": each.key} for each in stale}
    shared.remember(SEAL_KIND, records)
    known = slicing().known(plans)
    assert all(known[each.name]["key"] == each.key for each in plans)  # a run now re-runs nothing
    assert not slicing().all_reusable(slicing().plans(build, commands, sandbox, store_names()))


def test_a_slice_result_on_postgresql_is_not_reused_with_other_migrations(crm_output: Path):
    """The PostgreSQL store makes its database with migrations generated from the Pack0 by the factory, not
    from build/: a pass with other migrations is no pass (a SQLite-only run does not depend on them)."""
    from factory.pack0.load import load_pack0
    from factory.runner.stores import migrations_digest

    digest = migrations_digest(load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1"))
    assert len(digest) == 64
    assert _slice_keys(crm_output, migrations=digest) != _slice_keys(crm_output, migrations="0" * 64)


class _Planted:
    """Unpickling it makes a file: whoever unpickles a cache entry runs the writer's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.quick
def test_a_pickled_entry_planted_in_the_caches_is_never_unpickled(tmp_path: Path):
    """diskcache unpickles any value (and key) stored in pickle mode: whoever can write the cache folder would
    run code in the factory, outside every sandbox. The shared results and the reply cache read text only."""
    import diskcache

    from factory.llm.cache import ReplyCache

    marker = tmp_path / "ran"
    with diskcache.Cache(str(tmp_path / "cache" / RESULTS_FOLDER)) as cache:
        cache["secret-scan:abc"] = _Planted(marker)
    assert SharedResults(tmp_path / "cache").recall("secret-scan", ["abc"]) == {}
    with diskcache.Cache(str(tmp_path / "replies")) as cache:
        cache["key"] = _Planted(marker)
        cache[("a", "tuple", "key")] = "pickled key"
    replies = ReplyCache(tmp_path / "replies")
    assert replies.get("key") is None and replies.stats()["entries"] == 0
    assert not marker.exists()

"""Results another output of this machine recorded (factory/results_cache.py): a second build of the same module
in another folder reuses the test slices, the secret scan and the contracts checks instead of redoing them, and
nothing it did not seal itself is believed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import diskcache
from conftest import ROOT, factory_env, read_json, run_cli, seed_fuzz_results

from factory.gates.contracts import contracts_gate
from factory.gates.secrets import secret_scan_gate
from factory.pack0.load import load_pack0
from factory.results_cache import LOCKS_FOLDER, RESULTS_FOLDER, SharedResults
from factory.runner.sandbox import resolve_sandbox

FAKE_AWS_KEY = "AKIA" + "Q3VZ7XK2LM4PB8RD"


def _build(out: Path, cache: Path):
    env = factory_env(LAI_CACHE_DIR=str(cache))
    return run_cli("auto-full", "--module", "tasks", "--out", out, "--waive", "docker-build", env=env)


def test_a_second_output_of_the_same_module_reuses_the_first_ones_results(tmp_path: Path):
    cache = seed_fuzz_results(tmp_path / "cache")
    first = _build(tmp_path / "one", cache)
    assert first.returncode == 0, first.stdout + first.stderr
    second = _build(tmp_path / "two", cache)
    assert second.returncode == 0, second.stdout + second.stderr
    slices = read_json(tmp_path / "two/build/.factory_logs/test_report.json")["final_run"]["slices"]
    assert slices and all(each["reused"] and each["reused_from"] == "shared cache" for each in slices)
    assert "scanned 0 file contents not scanned before" in second.stdout
    # What the first output ran is what the second one reports, case for case.
    ran = read_json(tmp_path / "one/build/.factory_logs/test_report.json")["final_run"]["slices"]
    assert not any(each["reused"] for each in ran)
    assert [each["cases"] for each in ran] == [each["cases"] for each in slices]
    evidence = read_json(tmp_path / "two/build/run_report.json")["tests"]["slices"]
    assert [each["reused_from"] for each in evidence] == ["shared cache"] * len(slices)
    assert run_cli("verify", tmp_path / "two").returncode == 0


def test_two_builds_of_one_module_started_together_fuzz_its_code_once(tmp_path: Path):
    # Nothing fuzzed before; one example per operation (a key no other test shares, and a quicker fuzz run).
    env = factory_env(LAI_CACHE_DIR=str(tmp_path / "cache"), LAI_FUZZ_EXAMPLES="1")
    argv = [sys.executable, "-m", "factory.cli", "auto-full", "--module", "fleet-vehicles", "--waive", "docker-build"]
    runs = [
        subprocess.Popen(
            [*argv, "--out", str(tmp_path / name)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for name in ("one", "two")
    ]
    printed = [run.communicate(timeout=600)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], printed
    logs = [(tmp_path / name / "build/.factory_logs/pipeline.log").read_text() for name in ("one", "two")]
    fuzzed = [line for log in logs for line in log.splitlines() if "run_heal: contract fuzzing:" in line]
    # One ran the tests and fuzzed; the other waited for it and took its results.
    assert len(fuzzed) == 2 and sum("(this code's run, reused: key" in line for line in fuzzed) == 1, fuzzed
    reports = [read_json(tmp_path / name / "build/.factory_logs/test_report.json") for name in ("one", "two")]
    reused = [[each["reused_from"] for each in report["final_run"]["slices"]] for report in reports]
    names = {None: "ran", "shared cache": "reused"}
    kinds = [names.get(each[0]) if len(set(each)) == 1 else "mixed" for each in reused]
    assert sorted(kinds) == ["ran", "reused"], reused


def test_one_at_a_time_waits_for_the_holder_and_not_past_its_limit(tmp_path: Path):
    shared, other = SharedResults(tmp_path), SharedResults(tmp_path)
    with shared.one_at_a_time("kind", "key", wait_seconds=1):
        started = time.monotonic()
        with other.one_at_a_time("kind", "key", wait_seconds=0.5):  # held: waits its limit, then goes on
            waited = time.monotonic() - started
        assert 0.5 <= waited < 5
    started = time.monotonic()
    with other.one_at_a_time("kind", "key", wait_seconds=30):  # released: no wait
        assert time.monotonic() - started < 1
    # A link in a lock file's place is not followed (nor written through): no lock, no wait, no error.
    locks = tmp_path / RESULTS_FOLDER / LOCKS_FOLDER
    target = tmp_path / "elsewhere"
    for lock in locks.iterdir():
        lock.unlink()
        lock.symlink_to(target)
    with shared.one_at_a_time("kind", "key", wait_seconds=30), other.one_at_a_time("kind", "key", wait_seconds=30):
        pass
    assert not target.exists() and all(os.path.islink(lock) for lock in locks.iterdir())


def test_a_wait_for_another_build_is_said_with_its_limit_and_its_end(tmp_path: Path):
    shared, said = SharedResults(tmp_path), []
    waiting = SharedResults(tmp_path).one_at_a_time("kind", "key", 0.3, say=said.append, what="test run")
    with shared.one_at_a_time("kind", "key", wait_seconds=1), waiting:
        pass
    assert said == [
        "waiting (at most 0 s) for another build of this code: its test run",
        "the other build's test run not done after 0 s: going on without them",
    ]
    said.clear()
    with SharedResults(tmp_path).one_at_a_time("kind", "key", 30, say=said.append):  # free: nothing to say
        pass
    assert said == []


def test_what_is_planted_in_the_locks_place_neither_hangs_nor_is_written_through(tmp_path: Path):
    # Whoever can write the cache folder: a FIFO or a folder as a lock file, a link as the locks folder.
    shared = SharedResults(tmp_path / "one")
    with shared.one_at_a_time("kind", "key", wait_seconds=1):
        pass
    locks = shared.folder / LOCKS_FOLDER
    for index, lock in enumerate(sorted(locks.iterdir())):
        lock.unlink()
        os.mkfifo(lock) if index % 2 else lock.mkdir()
    started = time.monotonic()
    with shared.one_at_a_time("kind", "key", wait_seconds=30):
        pass
    assert time.monotonic() - started < 5
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = SharedResults(tmp_path / "two")
    (linked.folder).mkdir(parents=True)
    (linked.folder / LOCKS_FOLDER).symlink_to(elsewhere)
    with linked.one_at_a_time("kind", "key", wait_seconds=30), linked.one_at_a_time("kind", "key", wait_seconds=30):
        pass  # no lock, so no wait (the second would otherwise wait for the first)
    assert list(elsewhere.iterdir()) == []
    # A hard link in a lock file's place (to a file of this user's): not written, not truncated.
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    lock = next(iter(sorted(locks.iterdir())))
    lock.rmdir() if lock.is_dir() else lock.unlink()
    os.link(precious, lock)
    with shared.one_at_a_time("kind", "key", wait_seconds=30):
        pass
    assert precious.read_text() == "keep me"


def test_two_keys_that_share_a_lock_file_do_not_wait_for_each_other(tmp_path: Path):
    import hashlib

    from factory.results_cache import LOCK_STRIPES

    def stripe(key: str) -> int:
        return int(hashlib.sha256(f"kind:{key}".encode()).hexdigest()[:8], 16) % LOCK_STRIPES

    other = next(f"key{n}" for n in range(1, 10_000) if stripe(f"key{n}") == stripe("key0"))
    said = []
    with SharedResults(tmp_path).one_at_a_time("kind", "key0", wait_seconds=30):
        started = time.monotonic()
        with SharedResults(tmp_path).one_at_a_time("kind", other, wait_seconds=30, say=said.append):
            assert time.monotonic() - started < 5 and said == []  # not "another build of this code"


def test_a_build_waiting_for_another_fuzzing_the_same_code_says_so_then_reuses_its_run(
    crm_output: Path, tmp_path: Path
):
    import threading

    from factory.gates.contracts_fuzz import RUN_KIND, FuzzSettings, _cache, fuzz_key, fuzz_service_once

    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    settings = FuzzSettings(max_examples=1)
    key = fuzz_key(build, "none", settings)
    clean = {"settings": vars(settings), "operations_total": 11, "operations": ["health"], "stop": "completed"}
    holding, said = threading.Event(), []

    def other_build():  # fuzzes this code: holds the lock, keeps its run, lets go
        with _cache(tmp_path / "cache").one_at_a_time(RUN_KIND, key, wait_seconds=1):
            holding.set()
            time.sleep(0.5)
            _cache(tmp_path / "cache").remember(RUN_KIND, {key: clean})

    thread = threading.Thread(target=other_build)
    thread.start()
    holding.wait(10)
    run = fuzz_service_once(build, pack0, "none", tmp_path / "cache", settings, say=said.append)
    thread.join()
    assert run.reused_key == key and run.operations == ["health"]  # not fuzzed here (no sandbox would fail it)
    assert said[0].startswith("waiting (at most ") and said[0].endswith(
        " for another build of this code: its contract fuzzing"
    )
    assert said[1].startswith("waited ") and said[1].endswith(" s for the other build's contract fuzzing")


def test_an_entry_this_machine_did_not_seal_is_not_believed(tmp_path: Path):
    shared = SharedResults(tmp_path)
    shared.remember("kind", {"key": {"passed": True}})
    assert shared.recall("kind", ["key"]) == {"key": {"passed": True}}
    with diskcache.Cache(str(tmp_path / RESULTS_FOLDER)) as cache:
        entry = json.loads(cache["kind:key"])
        cache["kind:key"] = json.dumps({**entry, "value": {"passed": False}})  # changed, old seal
        cache["kind:other"] = json.dumps({"value": {"passed": True}, "mac": "0" * 64})  # forged seal
        cache["kind:moved"] = json.dumps(entry)  # another key's sealed entry
        cache["kind:junk"] = "not json"
    assert shared.recall("kind", ["key", "other", "moved", "junk", "missing"]) == {}


def test_a_forged_clean_secret_scan_result_does_not_hide_a_secret(crm_output: Path, tmp_path: Path):
    build = tmp_path / "out/build"
    shutil.copytree(crm_output / "build", build)
    settings = build / "src/crm_contacts/settings.py"
    settings.write_text(f'AWS_KEY = "{FAKE_AWS_KEY}"\n')
    shared = SharedResults(tmp_path / "cache")
    first = secret_scan_gate(build, shared=shared)
    assert first.status == "failed"
    # Rewrite every shared secret-scan entry to "no findings", keeping its seal: none may be believed.
    with diskcache.Cache(str(tmp_path / "cache" / RESULTS_FOLDER)) as cache:
        for key in list(cache):
            cache[key] = json.dumps({**json.loads(cache[key]), "value": []})
    said = []
    again = secret_scan_gate(build, shared=shared, say=said.append)
    assert again.status == "failed" and again.details == first.details
    assert not said[-1].startswith("scanned 0 ")
    stored = b"".join(path.read_bytes() for path in (tmp_path / "cache").rglob("*") if path.is_file())
    assert FAKE_AWS_KEY.encode() not in stored


def test_the_contracts_checks_are_redone_for_changed_code(crm_output: Path, tmp_path: Path):
    shutil.copytree(crm_output, tmp_path / "out")
    build, pack0_dir = tmp_path / "out/build", tmp_path / "out/pack0/pack0-crm-contacts-0.0.1"
    pack0, junit = load_pack0(pack0_dir), build / ".factory_logs/junit.xml"
    cache = seed_fuzz_results(tmp_path / "cache")
    sandbox = resolve_sandbox("auto")  # as the build fuzzed it: its fuzz run is in the cache already
    assert contracts_gate(build, pack0_dir, pack0, junit, sandbox, cache).status == "passed"
    assert SharedResults(cache).folder.is_dir()
    routing = build / "src/crm_contacts/routing.py"  # the split service routes DELETE here
    text = routing.read_text()
    assert ', "DELETE": "delete"}' in text
    routing.write_text(text.replace(', "DELETE": "delete"}', "}"))
    broken = contracts_gate(build, pack0_dir, pack0, junit, sandbox, cache)
    assert broken.status == "failed"
    assert "delete_contact: DELETE /api/v1/contacts/{id} answered 405" in broken.details


def test_a_forged_clean_fuzz_run_is_not_believed(crm_output: Path, tmp_path: Path):
    # Read as fuzz_service_once reads it (the fuzzer itself is not run here: the belief is what is tested).
    from factory.gates.contracts_fuzz import FUZZ_CACHE_FOLDER, RUN_KIND, FuzzSettings, _cache, fuzz_key

    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    settings = FuzzSettings(max_examples=1)
    key = fuzz_key(build, "none", settings)
    clean = {"settings": vars(settings), "operations_total": 11, "operations": [], "stop": "completed"}
    _cache(tmp_path / "cache").remember(RUN_KIND, {key: clean})
    assert _cache(tmp_path / "cache").recall(RUN_KIND, [key]) == {key: clean}
    with diskcache.Cache(str(tmp_path / "cache" / FUZZ_CACHE_FOLDER)) as cache:
        cache[f"{RUN_KIND}:{key}"] = json.dumps({"value": clean, "mac": "0" * 64})
    assert _cache(tmp_path / "cache").recall(RUN_KIND, [key]) == {}


def test_a_file_name_that_is_not_utf8_is_keyed_not_a_crash(crm_output: Path, tmp_path: Path):
    # Generated code may make one (its tests run with build/ writable); run_heal's keys crashed on it.
    import os

    from factory.gates.contracts_fuzz import FuzzSettings, fuzz_key
    from factory.runner.test_slices import Slicing

    build = tmp_path / "out/build"
    shutil.copytree(crm_output / "build", build)
    before = fuzz_key(build, "none", FuzzSettings())
    with open(os.path.join(os.fsencode(build / "src/crm_contacts"), b"\xff.py"), "wb") as planted:
        planted.write(b"x = 1\n")
    assert fuzz_key(build, "none", FuzzSettings()) != before
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    slicing = Slicing.from_report(build / ".factory_logs", pack0.entities, build / ".factory_logs/test_report.json")
    commands = json.loads((build / ".test_commands.json").read_text())["commands"]
    plans = slicing.plans(build, commands, "none", ["sqlite"])
    assert plans and not slicing.all_reusable(plans)  # the new file counts


def _plans(crm_output: Path, tmp_path: Path):
    """The crm build's test slices as run_heal plans them (a copy: nothing is built or run)."""
    from factory.runner.test_slices import Slicing

    build = tmp_path / "out/build"
    shutil.copytree(crm_output / "build", build)
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    slicing = Slicing.from_report(build / ".factory_logs", pack0.entities, build / ".factory_logs/test_report.json")
    commands = json.loads((build / ".test_commands.json").read_text())["commands"]
    return pack0, commands, slicing.plans(build, commands, "none", ["sqlite"])


def test_the_wait_for_a_test_run_covers_its_tests_heal_tries_and_fuzzing_by_the_same_settings(
    crm_output: Path, tmp_path: Path, monkeypatch
):
    from factory.config import BuildConfig
    from factory.gates.contracts_fuzz import FuzzSettings, longest_fuzz_seconds
    from factory.runner.stores import TEST_DATABASE_ENV
    from factory.stages.run_heal import hold_limit

    monkeypatch.delenv(TEST_DATABASE_ENV, raising=False)
    monkeypatch.setenv("LAI_FUZZ_SECONDS_PER_OPERATION", "1")
    pack0, commands, _plans_now = _plans(crm_output, tmp_path)
    config = BuildConfig(module="crm-contacts", out=tmp_path / "out", test_timeout=1)
    fuzz = longest_fuzz_seconds(pack0, FuzzSettings(seconds_per_operation=1))
    seconds, why = hold_limit(config, pack0, commands, tries=0)
    # One test run within the one-second limit, lint and one fuzz run within its budget: no more, no less.
    assert fuzz + len(commands) <= seconds < fuzz + len(commands) + 300
    assert why.startswith(f"1 x (tests {len(commands)} s + lint ") and f"contract fuzzing {fuzz} s" in why
    # Each heal try may add a run of all of it and the fix; a longer test limit or fuzz budget, that much more.
    healing, healing_why = hold_limit(config, pack0, commands, tries=2)
    assert healing >= 3 * seconds and healing_why.startswith("3 x (") and "+ 2 heal tries x " in healing_why
    longer = hold_limit(BuildConfig(module="crm-contacts", out=tmp_path / "out", test_timeout=50), pack0, commands, 0)
    assert longer[0] == seconds + 49 * len(commands)
    monkeypatch.setenv("LAI_FUZZ_SECONDS_PER_OPERATION", "2")
    assert hold_limit(config, pack0, commands, 0)[0] == seconds + (longest_fuzz_seconds(pack0) - fuzz)
    model = BuildConfig(module="crm-contacts", out=tmp_path / "out", test_timeout=1, provider="anthropic")
    monkeypatch.setenv("LAI_FUZZ_SECONDS_PER_OPERATION", "1")
    assert hold_limit(model, pack0, commands, 2)[0] > healing  # a model's reply may take longer than ruff's fix


def test_a_build_waits_past_the_test_time_limit_for_the_holder_of_the_same_test_run(
    crm_output: Path, tmp_path: Path, monkeypatch
):
    # Before, the wait was one test run's limit (here 1 s): the holder, still fuzzing or healing, was given up on
    # and its work done a second time.
    import threading

    from factory.config import BuildConfig
    from factory.runner.test_slices import SEAL_KIND, run_key
    from factory.stages.run_heal import _one_build_at_a_time, hold_limit

    monkeypatch.setenv("LAI_FUZZ_SECONDS_PER_OPERATION", "1")
    pack0, commands, plans = _plans(crm_output, tmp_path)
    hold = hold_limit(BuildConfig(module="crm-contacts", out=tmp_path / "out", test_timeout=1), pack0, commands, 0)
    holding, said = threading.Event(), []

    def other_build():
        with SharedResults(tmp_path / "cache").one_at_a_time(SEAL_KIND, run_key(plans), wait_seconds=1):
            holding.set()
            time.sleep(2.5)

    thread = threading.Thread(target=other_build)
    thread.start()
    holding.wait(10)
    started = time.monotonic()
    with _one_build_at_a_time(plans, SharedResults(tmp_path / "cache"), hold, said.append):
        waited = time.monotonic() - started
    thread.join()
    assert 2 <= waited < 10, said
    assert said[0] == f"waiting (at most {hold[0]} s: {hold[1]}) for another build of this code: its test run"
    assert said[1].startswith("waited ") and said[1].endswith(" s for the other build's test run")


def _holder(cache: Path, seconds: float) -> subprocess.Popen:
    """Another build holding the lock of ('kind', 'key') for seconds, then ending; it says 'held' once it has it."""
    holds = (
        "import sys, time\nfrom pathlib import Path\nfrom factory.results_cache import SharedResults\n"
        "with SharedResults(Path(sys.argv[1])).one_at_a_time('kind', 'key', 1):\n"
        "    print('held', flush=True)\n    time.sleep(float(sys.argv[2]))\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", holds, str(cache), str(seconds)], stdout=subprocess.PIPE, cwd=ROOT)
    assert holder.stdout.readline() == b"held\n"
    return holder


def test_a_holder_at_work_is_waited_for_a_stopped_one_only_briefly_and_a_killed_one_not_at_all(tmp_path: Path):
    import signal

    said = []
    working = _holder(tmp_path, 5)  # longer than the silence a waiter accepts: it shows it works all along
    started = time.monotonic()
    with SharedResults(tmp_path).one_at_a_time("kind", "key", 60, say=said.append, silent_seconds=3):
        assert time.monotonic() - started >= 4 and said[-1].startswith("waited "), said
    assert working.wait(10) == 0
    stopped = _holder(tmp_path, 600)
    try:
        stopped.send_signal(signal.SIGSTOP)  # Ctrl-Z: it keeps the lock, and does no work
        started = time.monotonic()
        with SharedResults(tmp_path).one_at_a_time("kind", "key", 60, say=said.append, silent_seconds=3):
            waited = time.monotonic() - started
        assert 3 <= waited < 10, said
        assert said[-1].startswith("the other build's kind has shown no sign of work for ")
        assert said[-1].endswith(" s (stopped?): going on without them")
        # Stopped for good, with a wait limit shorter than the silence: the limit ends it.
        started = time.monotonic()
        with SharedResults(tmp_path).one_at_a_time("kind", "key", 1, say=said.append):
            assert 1 <= time.monotonic() - started < 5
        assert said[-1] == "the other build's kind not done after 1 s: going on without them"
        stopped.kill()  # a killed holder's lock is the OS's to drop: the next build does not wait
        stopped.wait(10)
        started = time.monotonic()
        with SharedResults(tmp_path).one_at_a_time("kind", "key", 30):
            assert time.monotonic() - started < 2
    finally:
        stopped.kill()
        stopped.wait(10)

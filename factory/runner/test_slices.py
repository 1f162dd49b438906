"""The I/O side of per-slice test results (factory/runner/slices.py plans them): which files each slice
wrote (its CodeGen and TestGen replies), the results known from the last run, and settling a run's results
into slices. The results live in the test report itself (final_run.slices, each with its test cases), so the
report and what a later run may reuse are written together, and the evidence covers both."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from factory.agents.replies import FileSetReply, parse_reply
from factory.errors import FactoryError
from factory.fsutil import list_files, write_text_atomic
from factory.pack0.models import Entity
from factory.results_cache import SharedResults, canonical_json, interpreter
from factory.runner.junit import OUTCOMES, merged_junit
from factory.runner.sandbox import PASSED_VARIABLES
from factory.runner.slices import SlicePlan, plan, slice_of_test
from factory.trust import seal, sealed

TESTS_ARGUMENT = "tests"
WATCHED_ROOTS = ("src", "tests")


SEAL_KIND = "test-slice"


def _counts(cases: list) -> dict:
    outcomes = [case["outcome"] for _test, _xml, case in cases]
    return {"total": len(outcomes), **{name: outcomes.count(name) for name in OUTCOMES}}


def read_slice_files(build_dir: Path, roots: tuple[str, ...], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under the roots (and the extra files), by path inside build/, as the slice keys read them
    (any bytes: a file that is not UTF-8 still counts)."""
    paths = [path for root in roots if (build_dir / root).is_dir() for path in list_files(build_dir / root)]
    paths += [build_dir / name for name in extra]
    return {
        path.relative_to(build_dir).as_posix(): path.read_bytes().decode("utf-8", "surrogateescape")
        for path in paths
        if path.is_file()
    }


def owned_files(logs_dir: Path, entities: tuple[Entity, ...]) -> dict[str, set[str]] | None:
    """The files each entity slice's replies wrote; None when a reply cannot be read (then nothing is
    reused: without knowing who wrote what, every test depends on every file)."""
    owned = {}
    for entity in entities:
        paths: set[str] = set()
        for agent in ("codegen", "testgen"):
            try:
                raw = (logs_dir / "raw" / f"{agent}.{entity.name}.txt").read_text(encoding="utf-8")
                paths |= set(parse_reply(agent, raw, FileSetReply).as_dict())
            except (OSError, FactoryError):
                return None
        owned[entity.name] = paths
    return owned


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme and parts.password is not None:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)))
    return re.sub(r"password\s*=\s*\S*", "", url)


def run_environment() -> dict:
    """What the generated tests see of this machine besides the files (run.py, stores.py): the variables passed
    to them, and which PostgreSQL server they run on (its address, not its password)."""
    from factory.runner.stores import TEST_DATABASE_ENV

    server = os.environ.get(TEST_DATABASE_ENV)
    return {
        "variables": {name: os.environ.get(name) for name in PASSED_VARIABLES},
        "postgres": _without_password(server) if server else None,
    }


def _shared_key(name: str, key: str) -> str:
    """A slice's entry in the shared results: its name and its key (the key covers its inputs' content)."""
    return f"{name}:{key}"


@dataclass
class Slicing:
    logs_dir: Path
    entities: tuple[Entity, ...]
    # The last run's slices by name (from the test report, then from each run of a heal loop).
    previous: dict[str, dict] = field(default_factory=dict)
    # This machine's seals of the passing results it recorded (factory/trust.py), by slice; kept beside the
    # output's other factory state, outside build/: a result written into the report by hand is not reused.
    seals_file: Path | None = None
    # Passing slice results any output of this machine recorded, by slice and key (results_cache.py).
    shared: SharedResults | None = None
    # --test-timeout (None: each command's own): a pass within a long limit is no pass within a short one.
    timeout_s: int | None = None
    # The digest of the migrations a PostgreSQL test database is made with (stores.py), when there is one.
    migrations: str | None = None

    @classmethod
    def from_report(
        cls,
        logs_dir: Path,
        entities: tuple[Entity, ...],
        report: Path,
        seals_file: Path | None = None,
        shared: SharedResults | None = None,
        timeout_s: int | None = None,
        migrations: str | None = None,
    ) -> Slicing:
        try:
            slices = json.loads(report.read_text(encoding="utf-8"))["final_run"]["slices"]
            previous = {each["name"]: each for each in slices if isinstance(each, dict) and "cases" in each}
        except (OSError, ValueError, KeyError, TypeError):
            previous = {}
        return cls(logs_dir, entities, previous, seals_file, shared, timeout_s, migrations)

    def _seals(self) -> dict:
        try:
            seals = json.loads(self.seals_file.read_text(encoding="utf-8")) if self.seals_file else {}
        except (OSError, ValueError):
            return {}
        return seals if isinstance(seals, dict) else {}

    def _owned(self) -> dict[str, set[str]] | None:
        return owned_files(self.logs_dir, self.entities)

    def plans(self, build_dir: Path, commands: list[dict], sandbox: str, stores: list[str]) -> list[SlicePlan] | None:
        """The slices and their keys now; None when the commands cannot be narrowed to some test modules."""
        owned = self._owned()
        if owned is None or not commands or not all(TESTS_ARGUMENT in command["argv"] for command in commands):
            return None
        files = read_slice_files(build_dir, WATCHED_ROOTS, (".test_commands.json",))
        setting = {
            **{"commands": commands, "sandbox": sandbox, "stores": stores, "timeout_s": self.timeout_s},
            "migrations": self.migrations if "postgres" in stores else None,
            **{"python": interpreter(), "environment": run_environment()},
        }
        return plan(files, owned, list(self.entities), setting)

    def known(self, plans: list[SlicePlan] | None = None, shared: bool = True) -> dict[str, dict]:
        """The passing results of the last run this machine sealed, by slice (a failed result is never
        reused). Without a seals file (a caller that keeps none), the report's results are believed. With
        plans, a slice whose last result is for other inputs takes the shared result for its key, if any."""
        passing = {name: record for name, record in self.previous.items() if record.get("passed")}
        if self.seals_file is not None:
            seals = self._seals()
            passing = {
                name: record
                for name, record in passing.items()
                if sealed(SEAL_KIND, canonical_json(record), seals.get(name))
            }
        stale = [each for each in plans or [] if passing.get(each.name, {}).get("key") != each.key]
        wanted = {_shared_key(each.name, each.key): each for each in stale}
        if shared and self.shared is not None and wanted:
            for shared_key, record in self.shared.recall(SEAL_KIND, list(wanted)).items():
                each = wanted[shared_key]
                if isinstance(record, dict) and record.get("key") == each.key and isinstance(record.get("cases"), list):
                    passing[each.name] = {**record, "name": each.name, "reused_from": "shared cache"}
        return passing

    def settle(
        self, plans: list[SlicePlan], known: dict[str, dict], reused: set[str], outcome, junit_path: Path
    ) -> tuple[list, list[dict]]:
        """Every slice's cases (reused from known, or just run), also written as one JUnit file; returns the
        cases and the slices for the test report (each with its key, inputs, counts and cases)."""
        fresh: dict[str, list] = {each.name: [] for each in plans if each.name not in reused}
        for case in outcome.cases:
            fresh.setdefault(slice_of_test(case[0], plans), []).append(case)
        tests = {test for each in plans for test in each.tests}
        # A result is only worth keeping when the run says exactly which test failed, if any did.
        trusted = (
            not outcome.timed_out
            and not outcome.failures
            and all(case["failure"] is None or test in tests for test, _xml, case in outcome.cases)
            and (outcome.exit_code == 0 or any(case["failure"] for _test, _xml, case in outcome.cases))
        )
        slices, cases = [], []
        for each in plans:
            own = known[each.name]["cases"] if each.name in reused else [list(case) for case in fresh[each.name]]
            passed = each.name in reused or (trusted and all(case[2]["failure"] is None for case in own))
            cases += [tuple(case) for case in own]
            slices.append(
                {
                    "name": each.name,
                    "reused": each.name in reused,
                    "reused_from": known[each.name].get("reused_from", "this output's last run")
                    if each.name in reused
                    else None,
                    "key": each.key,
                    "inputs": each.inputs,
                    "passed": passed,
                    "tests": _counts(own),
                    "cases": own,
                }
            )
        self.previous = {each["name"]: each for each in slices}
        if self.seals_file is not None:
            seals = {each["name"]: seal(SEAL_KIND, canonical_json(each)) for each in slices if each["passed"]}
            write_text_atomic(self.seals_file, json.dumps(seals, indent=1, sort_keys=True) + "\n")
        write_text_atomic(junit_path, merged_junit([xml for _test, xml, _case in cases]))
        return cases, slices

    def share(self, slices: list[dict]) -> None:
        """After the test report that holds them is written: its passing slice results, for any output of this
        machine (not before: a run killed in between must leave what a clean run leaves)."""
        if self.shared is not None:
            passing = {_shared_key(each["name"], each["key"]): each for each in slices if each.get("passed")}
            self.shared.remember(SEAL_KIND, passing)

    def all_reusable(self, plans: list[SlicePlan] | None) -> bool:
        """Every slice (plans: as they are now) has a passing result of this output's own made from its inputs
        (then the last report stands as it is: a result from the shared cache must be written into a new
        report)."""
        known = self.known(plans, shared=False)
        return plans is not None and all(known.get(each.name, {}).get("key") == each.key for each in plans)


def run_key(plans: list[SlicePlan]) -> str:
    """One key for what a run of every slice as planned finds (their keys together)."""
    from factory.llm.cache import content_key

    return content_key({"slices": [each.key for each in plans]})

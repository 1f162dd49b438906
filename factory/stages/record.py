"""Progress and bookkeeping shared by every stage: a line on screen, pipeline.log, a timing record."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from factory import progress
from factory.errors import FactoryError
from factory.fsutil import write_json_atomic

# Stages that run after the evidence is written: their failure leaves it true.
AFTER_EVIDENCE = ("pec", "report", "deploy_apply")
EVIDENCE_FILES = ("run_report.json", "approval.json", "pipeline_result.json", "manifest.json")

if TYPE_CHECKING:
    from factory.config import BuildConfig
    from factory.layout import Layout


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_say(config: BuildConfig, stage: str) -> Callable[[str], None]:
    """Print a progress line and append it to pipeline.log."""
    log_path = config.layout.pipeline_log

    def say(message: str) -> None:
        if config.output == "normal":
            progress.emit(f"  [{stage}] {message}")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"{_now()} {stage}: {message}\n")

    return say


def run_stage(config: BuildConfig, stage: str, work: Callable[[BuildConfig, Callable[[str], None]], str]) -> bool:
    """Run one stage's work; record its status and time. work returns a one-line summary."""
    say = make_say(config, stage)
    started = time.monotonic()
    say("started")
    try:
        summary = work(config, say)
    except FactoryError as error:
        # A known, explained failure: one line, no traceback; doit marks the task failed.
        say(f"FAILED: {error}")
        print(f"lai-pack: {stage}: {error}", file=sys.stderr, flush=True)
        _stopped(config, stage, str(error), started, say)
        return False
    except Exception as error:
        say(f"FAILED: {type(error).__name__}: {error}")
        print(f"lai-pack: stage {stage} failed: {error}", file=sys.stderr, flush=True)
        _stopped(config, stage, f"{type(error).__name__}: {error}", started, say)
        raise
    duration = round(time.monotonic() - started, 3)
    say(f"done in {duration:.2f}s: {summary}")
    _record(config, stage, "done", duration, summary)
    return True


def _record(config: BuildConfig, stage: str, status: str, duration: float, summary: str) -> None:
    record = {
        "name": stage,
        "status": status,
        "duration_s": duration,
        "finished_at": _now(),
        "finished_ts": time.time(),
        "summary": summary,
    }
    write_json_atomic(config.layout.stage_record(stage), record)


def stopped_evidence(config: BuildConfig, error: str) -> None:
    """After doit stopped with an error no stage reported (a task that could not be made or checked): the
    same as a failed stage, named 'pipeline'."""
    _stopped(config, "pipeline", error, time.monotonic(), make_say(config, "pipeline"))


def _stopped(config: BuildConfig, stage: str, error: str, started: float, say: Callable[[str], None]) -> None:
    """A stage before the evidence failed: the run ends here, so the evidence must describe what it leaves
    (NOT APPROVED, naming the stage), not what the previous run left. When even that cannot be written, the
    previous evidence is removed: it would vouch for files that have changed."""
    if stage in AFTER_EVIDENCE:
        return
    first_line = (error.splitlines() or ["failed"])[0][:300]
    _record(config, stage, "failed", round(time.monotonic() - started, 3), first_line)
    try:
        from factory.stages.pec import failure_evidence

        failure_evidence(config, stage, first_line, make_say(config, "pec"))
    except Exception as problem:  # noqa: BLE001 - whatever broke, stale evidence must not stay
        removed = remove_evidence(config.layout)
        say(f"could not write evidence for this run ({type(problem).__name__}: {problem}); removed {removed}")


def remove_evidence(layout: Layout) -> str:
    """Delete the evidence files; returns what was removed."""
    build = layout.build_dir
    names = [*EVIDENCE_FILES, "provenance.json", "provenance.dsse.json", "manifest.json.sig"]
    gone = [name for name in names if (build / name).is_file()]
    for name in gone:
        (build / name).unlink()
    return ", ".join(gone) or "nothing"


@dataclass(frozen=True)
class Deferred:
    """A stage's work named by its module (under factory/stages/) and function, imported only when the stage
    runs: creating the tasks of a no-op re-run imports none of the stages' code. With args, the function
    makes the work (e.g. one slice's). Plain data, so it travels to `doit -P process` workers."""

    module: str
    function: str
    args: tuple = ()

    def __call__(self, config: BuildConfig, say: Callable[[str], None]) -> str:
        target = getattr(importlib.import_module(f"factory.stages.{self.module}"), self.function)
        work = target(*self.args) if self.args else target
        return work(config, say)

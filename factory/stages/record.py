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

if TYPE_CHECKING:
    from factory.config import BuildConfig


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
        return False
    except Exception as error:
        say(f"FAILED: {type(error).__name__}: {error}")
        print(f"lai-pack: stage {stage} failed: {error}", file=sys.stderr, flush=True)
        raise
    duration = round(time.monotonic() - started, 3)
    say(f"done in {duration:.2f}s: {summary}")
    record = {
        "name": stage,
        "status": "done",
        "duration_s": duration,
        "finished_at": _now(),
        "finished_ts": time.time(),
        "summary": summary,
    }
    write_json_atomic(config.layout.stage_record(stage), record)
    return True


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

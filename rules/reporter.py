"""doit's console reporter, made to speak the pipeline's language: what runs, what is up to date."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from doit import plugin
from doit.cmd_base import ModuleTaskLoader
from doit.dependency import MD5Checker
from doit.doit_cmd import DoitMain
from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter

from factory import progress
from factory.fsutil import sha256_file
from factory.trust import distrust_unsealed, seal_file

# rich draws the terminal's live lines; it is imported only when there is a terminal to draw on.
if TYPE_CHECKING:
    from rich.console import Group
    from rich.live import Live
    from rich.spinner import Spinner


class _Running:
    """The live lines of the running stages (several under `doit -n N`): a spinner, the name, the time so far."""

    def __init__(self) -> None:
        self.spinners: dict[str, tuple[float, Spinner]] = {}

    def __rich__(self) -> Group:
        from rich.console import Group

        now = time.monotonic()
        for name, (started, spinner) in self.spinners.items():
            spinner.update(text=f"[bold cyan]{name}[/] running {now - started:.1f}s")
        return Group(*(spinner for _started, spinner in self.spinners.values()))


class ProgressReporter(ConsoleReporter):
    """Plain lines (`▶ stage`, `= stage (up to date)`) where output is not a terminal, e.g. CI logs; on a
    terminal, a live line per running stage (spinner, name, time so far), then its result (✓/✗) and time."""

    def __init__(self, outstream, options) -> None:
        super().__init__(outstream, options)
        # The real stdout: doit swaps sys.stdout for its own writer while a task runs.
        self.console = None
        if sys.__stdout__.isatty():
            from rich.console import Console

            self.console = Console(file=sys.__stdout__, highlight=False)
        self.running = _Running()
        self.live: Live | None = None
        # Under `doit -n N -P thread` tasks start in worker threads and end in the main one.
        self.lock = threading.Lock()

    def execute_task(self, task) -> None:
        if not task.actions or task.name[0] == "_":
            return
        with self.lock:
            if self.console is None:
                self.write(f"▶ {task.name}\n")
                return
            from rich.live import Live
            from rich.spinner import Spinner

            self.running.spinners[task.name] = (time.monotonic(), Spinner("dots"))
            if self.live is None:
                # No stdout redirection: doit captures stdout itself; stage lines reach the console via
                # progress.emit, which prints them above the live lines.
                self.live = Live(
                    self.running,
                    console=self.console,
                    transient=True,
                    refresh_per_second=8,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self.live.start()
                progress.set_sink(lambda line: self.console.print(line, markup=False))

    def _finish(self, task, mark: str) -> None:
        with self.lock:
            running = self.running.spinners.pop(task.name, None)
            if running is None:
                return
            started, _spinner = running
            if self.live is not None and not self.running.spinners:
                self.live.stop()
                self.live = None
                progress.set_sink(None)
            self.console.print(f"{mark} {task.name} [dim]{time.monotonic() - started:.2f}s[/]")

    def add_success(self, task) -> None:
        self._finish(task, "[green]✓[/]")

    def skip_uptodate(self, task) -> None:
        if task.name[0] == "_" or not task.actions:
            return
        if self.console is None:
            self.write(f"= {task.name} (up to date)\n")
        else:
            self.console.print(f"[dim]= {task.name} (up to date)[/]")

    def add_failure(self, task, exception) -> None:
        self._finish(task, "[red]✗[/]")
        # A stage that returned False has already said why in one line; an exception keeps its traceback.
        if isinstance(exception, TaskFailed):
            self.write(f"✗ {task.name} failed\n")
        else:
            super().add_failure(task, exception)

    def skip_ignore(self, task) -> None:
        self.write(f"! {task.name} (ignored)\n")


class QuietReporter(ConsoleReporter):
    """--quiet and --json: no progress; a failure is still said, on stderr (stdout may carry JSON)."""

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def execute_task(self, task) -> None:
        pass

    def skip_uptodate(self, task) -> None:
        pass

    def skip_ignore(self, task) -> None:
        pass

    def add_failure(self, task, exception) -> None:
        if not isinstance(exception, TaskFailed):
            super().add_failure(task, exception)


class ContentChecker(MD5Checker):
    """doit's file checker without its shortcut (an unchanged mtime meaning unchanged content): whoever can
    write the output folder can edit a file and set its mtime back, and a stage must not miss that. Size and
    sha256 decide; hashing the inputs of a no-op re-run costs milliseconds.

    A file several stages depend on is hashed once per run while it stays as it was: its digest is kept with
    its identity and change time (ctime, which no one can set back), and only when that ctime was already
    SETTLED_NS old when the hashing began (git's "racily clean" rule): a later write always moves it."""

    SETTLED_NS = 1_000_000_000  # far above any file system's timestamp granularity

    def __init__(self) -> None:
        self.digests: dict[str, tuple[tuple[int, ...], str]] = {}  # one run's: doit makes a checker per run

    def _sha256(self, file_path: str, status: os.stat_result) -> str:
        identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        known = self.digests.get(file_path)
        if known is not None and known[0] == identity:
            return known[1]
        started = time.time_ns()
        digest = sha256_file(Path(file_path))
        if status.st_ctime_ns < started - self.SETTLED_NS:
            self.digests[file_path] = (identity, digest)
        return digest

    def check_modified(self, file_path, file_stat, state) -> bool:
        _timestamp, size, digest = state
        return file_stat.st_size != size or digest != self._sha256(file_path, file_stat)

    def get_state(self, dep, current_state) -> tuple:
        status = os.stat(dep)
        return status.st_mtime, status.st_size, self._sha256(dep, status)


def _sealing(reporter: type[ConsoleReporter], dep_file: Path) -> type[ConsoleReporter]:
    """The reporter, and when the run ends (after doit wrote its database) the database sealed with this
    machine's key: a re-run believes only a database this machine wrote (factory/trust.py)."""

    def complete_run(self) -> None:
        reporter.complete_run(self)
        seal_file(dep_file)

    return type(reporter.__name__, (reporter,), {"complete_run": complete_run})


def doit_config(dep_file: Path, output: str) -> dict:
    """DOIT_CONFIG of a build: where its dependency database is, what runs by default, how it is shown.
    `doit -n N` runs tasks in threads by default: the work waits on child processes and model APIs.
    A database this machine did not seal is removed first (doit opens it after reading this)."""
    distrust_unsealed(dep_file)
    return {
        "backend": "sqlite3",
        "check_file_uptodate": ContentChecker,
        "dep_file": str(dep_file),
        "default_tasks": ["auto_full"],
        "verbosity": 2,
        "par_type": "thread",
        "reporter": _sealing(ProgressReporter if output == "normal" else QuietReporter, dep_file),
    }


def run_doit(namespace: dict, argv: list[str]) -> int:
    """doit's exit status for argv over a namespace of task creators (rules.namespace). doit looks for plugin
    commands, backends and reporters in every installed distribution's entry points on every run (three scans
    of site-packages, ~15 ms, most of a no-op beyond doit's own); a build uses only doit's run command, its
    sqlite3 backend and the reporters above, so none is looked for while it runs."""
    discover = plugin.entry_points_impl
    plugin.entry_points_impl = lambda: lambda group: ()
    try:
        return DoitMain(ModuleTaskLoader(namespace)).run(argv)
    finally:
        plugin.entry_points_impl = discover

"""doit's console reporter, made to speak the pipeline's language: what runs, what is up to date."""

from __future__ import annotations

import sys
import time

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner

from factory import progress


class _Running:
    """The live line of a running stage: a spinner, its name, the time so far."""

    def __init__(self, name: str) -> None:
        self.name, self.started, self.spinner = name, time.monotonic(), Spinner("dots")

    def __rich__(self) -> Spinner:
        self.spinner.update(text=f"[bold cyan]{self.name}[/] running {time.monotonic() - self.started:.1f}s")
        return self.spinner


class ProgressReporter(ConsoleReporter):
    """Plain lines (`▶ stage`, `= stage (up to date)`) where output is not a terminal, e.g. CI logs; on a
    terminal, a live line per running stage (spinner, name, time so far), then its result (✓/✗) and time."""

    def __init__(self, outstream, options) -> None:
        super().__init__(outstream, options)
        # The real stdout: doit swaps sys.stdout for its own writer while a task runs.
        self.console = Console(file=sys.__stdout__, highlight=False) if sys.__stdout__.isatty() else None
        self.started: dict[str, float] = {}
        self.live: Live | None = None

    def execute_task(self, task) -> None:
        if not task.actions or task.name[0] == "_":
            return
        self.started[task.name] = time.monotonic()
        if self.console is None:
            self.write(f"▶ {task.name}\n")
            return
        # No stdout redirection: doit captures stdout itself; stage lines reach the console via progress.emit.
        self.live = Live(
            _Running(task.name),
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.live.start()
        progress.set_sink(lambda line: self.console.print(line, markup=False))

    def _finish(self, task, mark: str) -> None:
        started = self.started.pop(task.name, None)
        if self.console is None or started is None:
            return
        if self.live is not None:
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

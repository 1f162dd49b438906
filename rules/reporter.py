"""doit's console reporter, made to speak the pipeline's language: what runs, what is up to date."""

from __future__ import annotations

import sys

from doit.exceptions import TaskFailed
from doit.reporter import ConsoleReporter


class ProgressReporter(ConsoleReporter):
    def execute_task(self, task) -> None:
        if task.actions and task.name[0] != "_":
            self.write(f"▶ {task.name}\n")

    def skip_uptodate(self, task) -> None:
        if task.name[0] != "_" and task.actions:
            self.write(f"= {task.name} (up to date)\n")

    def add_failure(self, task, exception) -> None:
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

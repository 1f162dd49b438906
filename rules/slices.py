"""Wiring shared by the stages that work slice by slice (CodeGen, TestGen): one task per slice, and one that
gathers their raw replies into {agent}_raw.txt."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages.inputs import owned_record, slice_inputs, written_files, written_record
from factory.stages.record import Deferred, run_stage


def slice_tasks(
    config: BuildConfig,
    agent: str,
    doc: str,
    work: str,
    more_inputs: Callable[[str], list[Path]],
    more_targets: Callable[[str], list[Path]],
) -> Iterator[dict]:
    layout = config.layout
    yield {"basename": agent, "name": None, "doc": doc, "uptodate": [True]}  # see rules/__init__.py _group
    inputs = slice_inputs(layout.pack0_dir)
    names = list(inputs)
    settings = {
        "provider": config.provider,
        "model": config.model,
        # deploy/schema.py and pack0/openapi.py (with the field limits and list queries it declares, from the
        # stores' limits) write the service's tables.json and openapi.json copies.
        "code": code_digest(
            *("engine", "agents", "llm", "claude_models.py", "deploy", "stages/generate.py"),
            *("pack0/openapi.py", "pack0/field_schemas.py", "pack0/list_query.py", "pack0/stores.py"),
        ),
    }
    claimed: set[Path] = set()
    for name in names:
        file_dep = [*inputs[name], *more_inputs(name)]
        # Every file the slice writes is its target: a deleted one re-runs it (two tasks may not share one).
        record = written_record(layout.logs_dir, agent, name)
        written = written_files(layout.build_dir, layout.logs_dir, agent, name)
        targets = list(dict.fromkeys([layout.raw_reply(agent, name), record, *more_targets(name), *written]))
        targets = [path for path in targets if path not in claimed]
        claimed.update(targets)
        yield {
            "name": name,
            "actions": [(run_stage, (config, f"{agent}.{name}", Deferred("generate", work, (name,))))],
            "file_dep": [str(path) for path in file_dep],
            "targets": [str(path) for path in targets],
            "uptodate": [config_changed(settings)],
        }
    yield {
        "name": "raw",
        "actions": [(run_stage, (config, f"{agent}.raw", Deferred("generate", "collect_raw", (agent,))))],
        "file_dep": [str(layout.raw_reply(agent, name)) for name in names],
        "targets": [str(layout.raw_reply(agent)), str(owned_record(layout.logs_dir, agent))],
    }

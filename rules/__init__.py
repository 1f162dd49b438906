"""The pipeline as doit tasks: one file per stage, each only wiring (file_dep, targets, actions).

Data flows one way: Pack0 -> src -> tests -> reports -> evidence -> deploy. Stages that need files made by
an earlier stage are created after it ran (doit's create_after), so their file_dep lists are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from factory.config import BuildConfig
from factory.lock import lock_output
from rules import codegen, deploy, gates, pack0, pec, report, run_heal, testgen
from rules.reporter import ProgressReporter, QuietReporter

STAGE_MODULES = (pack0, codegen, testgen, run_heal, gates, deploy, pec, report)


def _group(config: BuildConfig, doc: str) -> Callable[[], dict]:
    def task() -> dict:
        stages = [name for module in STAGE_MODULES for name in module.TASK_NAMES if name in _enabled(config)]
        return {"doc": doc, "actions": None, "task_dep": stages}

    return task


def _enabled(config: BuildConfig) -> set[str]:
    names = {name for module in STAGE_MODULES for name in module.TASK_NAMES}
    return names if config.auto_deploy else names - set(deploy.TASK_NAMES)


def namespace(config: BuildConfig) -> dict:
    """What doit loads: task creators and DOIT_CONFIG, bound to one build's settings."""
    tasks: dict = {}
    for module in STAGE_MODULES:
        tasks.update({f"task_{name}": creator for name, creator in module.creators(config).items()})
    group_doc = (
        "the whole pipeline (Pack0 from the module name)"
        if config.pack0_source is None
        else (f"the whole pipeline (Pack0 from {config.pack0_source})")
    )
    tasks["task_auto_full"] = _group(config, group_doc)
    tasks["task_auto_build"] = _group(config, group_doc)
    tasks["DOIT_CONFIG"] = {
        "backend": "sqlite3",
        "dep_file": str(config.layout.dep_file),
        "default_tasks": ["auto_full"],
        "verbosity": 2,
        "reporter": ProgressReporter if config.output == "normal" else QuietReporter,
    }
    return tasks


def config_from_doit_vars(get_var: Callable[[str, str | None], str | None]) -> BuildConfig:
    """`doit auto_full module=NAME out=DIR [pack0=DIR] [max_heal=N] [deploy=1] [target=T] [waive=a,b]
    [base_image=IMAGE]`."""
    pack0_source = get_var("pack0", None)
    max_heal = get_var("max_heal", None)
    waive = get_var("waive", "") or ""
    config = BuildConfig(
        module=get_var("module", "crm-contacts"),
        out=Path(get_var("out", "output")),
        pack0_source=Path(pack0_source) if pack0_source else None,
        max_heal=int(max_heal) if max_heal else None,
        auto_deploy=get_var("deploy", "0") in ("1", "true", "yes"),
        deploy_target=get_var("target", "compose"),
        waivers=tuple(name for name in waive.split(",") if name),
        base_image=get_var("base_image", None),
        sign_key=Path(get_var("sign_key", "")) if get_var("sign_key", None) else None,
        sandbox=get_var("sandbox", "auto"),
        test_timeout=int(get_var("test_timeout", "0")) or None,
    ).check()
    # One run per output folder (this also creates it: doit opens its database there before any task runs).
    lock_output(config.out)
    return config

"""The pipeline as doit tasks: one file per stage, each only wiring (file_dep, targets, actions).

Data flows one way: Pack0 -> src -> tests -> reports -> evidence -> deploy. Stages that need files made by
an earlier stage are created after it ran (doit's create_after), so their file_dep lists are exact.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from factory.config import BuildConfig, config_from_settings
from factory.errors import FactoryError, InputError
from factory.lock import lock_output
from factory.settings import SETTINGS, effective_values, from_text, whole_number
from rules import codegen, deploy, gates, pack0, pec, report, run_heal, testgen
from rules.reporter import doit_config

STAGE_MODULES = (pack0, codegen, testgen, run_heal, gates, deploy, pec, report)


def _group(config: BuildConfig, doc: str) -> Callable[[], dict]:
    def task() -> dict:
        stages = [name for module in STAGE_MODULES for name in module.TASK_NAMES if name in _enabled(config)]
        # Up to date: a group only orders its stages (doit still runs each that is stale), and a group that
        # "ran" would be written to doit's database on every no-op.
        return {"doc": doc, "actions": None, "task_dep": stages, "uptodate": [True]}

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
    tasks["DOIT_CONFIG"] = doit_config(config.layout.dep_file, config.output)
    return tasks


def namespace_from_doit_vars(get_var: Callable[[str, str | None], str | None]) -> dict:
    """What dodo.py loads: `doit auto_full module=NAME out=DIR [pack0=DIR] [deploy=1] [target=T] [sign_key=F]
    [test_timeout=S]` plus any setting (provider=, model=, max_heal=, waive=a,b, cache_dir=, sandbox=,
    base_image=) over lai-factory.toml, [tool.lai-factory] and the environment, as lai-pack's flags do.
    `module=a,b,...` builds each in DIR/<module>/ (`doit -n N`: N at a time). Bad input: one line, exit 2."""
    try:
        return _namespace_from_doit_vars(get_var)
    except FactoryError as error:
        print(f"lai-pack: error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None


def _namespace_from_doit_vars(get_var: Callable[[str, str | None], str | None]) -> dict:
    flags = {key: from_text(key, get_var(key, None), f"{key}=") for key in SETTINGS if get_var(key, None)}
    settings = effective_values(Path.cwd(), flags)
    out = Path(get_var("out", "output"))
    modules = list(dict.fromkeys(get_var("module", "crm-contacts").split(",")))
    pack0_source = get_var("pack0", None)
    if len(modules) > 1 and pack0_source:
        raise InputError("several modules are built from their names; pack0= takes one module", field="module=")
    sign_key, test_timeout = get_var("sign_key", None), get_var("test_timeout", None)
    build = {
        "pack0_source": Path(pack0_source) if pack0_source else None,
        "auto_deploy": get_var("deploy", "0") in ("1", "true", "yes"),
        "deploy_target": get_var("target", "compose"),
        "sign_key": Path(sign_key) if sign_key else None,
        "test_timeout": whole_number(test_timeout, "test_timeout=") if test_timeout else None,
    }
    alone = len(modules) == 1
    configs = tuple(
        config_from_settings(settings, module=module, out=out if alone else out / module, **build) for module in modules
    )
    if settings["sandbox"] != "auto":  # one named must work here; auto is resolved by the stages that run code
        from factory.runner.sandbox import resolve_sandbox

        resolve_sandbox(settings["sandbox"])
    # One run per output folder (this also creates it: doit opens its database there before any task runs).
    lock_output(out)
    if alone:
        return namespace(configs[0])
    from factory.many import ManyBuild  # several modules: one lai-pack run each (a single build needs none)
    from rules import many

    return many.namespace(ManyBuild(out, configs))

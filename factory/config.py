"""One build's settings, from the CLI or doit's command-line variables. Checked here, at the edge."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from factory.errors import InputError
from factory.gates.result import GATE_ORDER
from factory.layout import Layout
from factory.llm.models import default_model
from factory.pack0.names import MODULE_NAME_PATTERN, name_problem
from factory.settings import CACHE_DIR_ENV, DEFAULTS, resolve_provider_name

# Only for type hints: a build's settings are made and checked on every run, a no-op included, so this
# module imports no model, agent or provider code (make_provider imports it when a stage needs it).
if TYPE_CHECKING:
    from factory.agents.request import Provider
    from factory.pack0.models import Budgets

DEFAULT_MODEL = default_model()
DEPLOY_TARGETS = ("compose", "supabase")
FACTORY_DIR = Path(__file__).parent


def _default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULTS["cache_dir"])


@dataclass(frozen=True)
class BuildConfig:
    module: str
    out: Path
    pack0_source: Path | None = None
    brief: str = ""
    max_heal: int | None = None
    provider: str = "offline"
    model: str = DEFAULT_MODEL
    model_price: str | None = None
    auto_deploy: bool = False
    deploy_target: str = "compose"
    waivers: tuple[str, ...] = ()
    cache_dir: Path = field(default_factory=_default_cache_dir)
    base_image: str | None = None
    sign_key: Path | None = None
    sandbox: str = "auto"
    test_timeout: int | None = None
    # What the console shows: progress (normal), only the result (quiet), or pipeline_result.json (json).
    output: str = "normal"

    @property
    def layout(self) -> Layout:
        return Layout(self.out, self.module)

    def make_provider(self, budgets: Budgets, progress: Callable[[str], None] | None = None) -> Provider:
        """The provider the agents call (the offline engine, or a model behind cache, budget and ledger).
        progress, when given, hears how a model reply grows while it streams."""
        from factory.llm.select import make_provider
        from factory.llm.usage import parse_prices

        prices = parse_prices(self.model_price) if self.model_price else None
        return make_provider(self.provider, self.model, self.layout, budgets, self.cache_dir, progress, prices)

    def check(self) -> BuildConfig:
        """Raises InputError for a setting that cannot work, before anything is written."""
        if name_problem(self.module, MODULE_NAME_PATTERN) or not 2 <= len(self.module) <= 40:
            raise InputError(
                f"module name {self.module!r} must be 2-40 characters of lower-case letters, digits and single "
                "hyphens, starting with a letter, and not a device name (e.g. crm-contacts)",
                field="--module",
            )
        if self.max_heal is not None and not 0 <= self.max_heal <= 20:
            raise InputError(f"--max-heal must be from 0 to 20, not {self.max_heal}", field="--max-heal")
        if self.deploy_target not in DEPLOY_TARGETS:
            raise InputError(f"--deploy-target must be one of {', '.join(DEPLOY_TARGETS)}", field="--deploy-target")
        for waiver in self.waivers:
            if waiver not in GATE_ORDER:
                raise InputError(f"cannot waive {waiver!r}: gates are {', '.join(GATE_ORDER)}", field="--waive")
        if self.sandbox != "auto":
            from factory.runner.sandbox import resolve_sandbox

            # A sandbox named must work here. auto always finds one (none at worst): the stages that run code
            # resolve it then, so a no-op neither loads the runner nor starts a bwrap probe.
            resolve_sandbox(self.sandbox)
        if self.model_price:
            from factory.llm.usage import parse_prices  # only a build given a price loads the price table

            parse_prices(self.model_price, "--model-price")
        if self.test_timeout is not None and not 1 <= self.test_timeout <= 3600:
            raise InputError(
                f"--test-timeout must be from 1 to 3600 seconds, not {self.test_timeout}", field="--test-timeout"
            )
        if self.sign_key is not None and not self.sign_key.is_file():
            raise InputError("signing key not found (make one with `lai-pack keygen`)", file=str(self.sign_key))
        if self.out.exists() and not self.out.is_dir():
            raise InputError("the output path exists and is not a folder", file=str(self.out))
        if self.pack0_source is not None:
            _check_apart(self.out, self.pack0_source)
        return self


def is_output_folder(out: Path) -> bool:
    """Empty, or holding what a lai-pack build leaves (the factory owns build/ and pack0/ in it, nothing else)."""
    names = [entry.name for entry in os.scandir(out)]
    return not names or any(name in ("build", "pack0") or name.startswith(".lai-pack.") for name in names)


def _check_apart(out: Path, pack0: Path) -> None:
    """The output folder and the Pack0 it is built from are separate folders: a build written into its own Pack0
    changes that Pack0 (the second run saw build/ as Pack0 files), and a Pack0 inside the output (but its own
    pack0/ folder, where the factory keeps the copy) is deleted or judged as the output's."""
    out_path, pack0_path = out.resolve(), pack0.resolve()
    if out_path == pack0_path or pack0_path in out_path.parents:
        raise InputError("the output folder is inside the Pack0 folder: choose one outside it", field="--out")
    if out_path in pack0_path.parents and pack0_path.parent != out_path / "pack0":
        raise InputError("the Pack0 folder is inside the output folder: move it out", field="--pack0")


def other_module_pack0(out: Path, module: str) -> Path | None:
    """A Pack0 folder of another module in out/pack0/ (an earlier build of it into this folder), or None. (Any
    other thing there, e.g. another version of this module's Pack0, is for the evidence stage to refuse.)"""
    try:
        names = sorted(entry.name for entry in os.scandir(out / "pack0") if entry.is_dir(follow_symlinks=False))
    except OSError:  # no such folder yet (or not one): nothing built here
        return None
    others = [
        name
        for name in names
        if name.startswith("pack0-") and name.removeprefix("pack0-").rpartition("-")[0] not in ("", module)
    ]
    return out / "pack0" / others[0] if others else None


def config_from_settings(settings: dict[str, object], **build: object) -> BuildConfig:
    """A checked BuildConfig: the layered settings (factory/settings.py effective values) plus what only a
    build has (module, out, pack0_source, ...). lai-pack's flags and doit's variables both come through here.
    The folders are made absolute here, before they reach doit: its database keys files by their spelling, so
    `--out runs/x` and `--out /abs/runs/x` must spell the same folder the same way to be one build."""
    for name in ("out", "pack0_source", "sign_key"):
        if build.get(name) is not None:
            build[name] = Path(build[name]).resolve()
    config = BuildConfig(
        max_heal=settings["max_heal"],
        provider=resolve_provider_name(settings["provider"]),
        model=settings["model"],
        model_price=settings["model_price"],
        waivers=tuple(dict.fromkeys(settings["waive"])),
        cache_dir=Path(settings["cache_dir"]),
        base_image=settings["base_image"],
        sandbox=settings["sandbox"],
        **build,
    ).check()
    if config.out.is_dir() and not is_output_folder(config.out):  # (a build's --out; `lai-pack pack0` writes into any)
        raise InputError(
            "the folder is not empty and is not a lai-pack output (no build/, pack0/ or .lai-pack.* in it): "
            "choose a new or empty folder",
            field="--out",
        )
    other = other_module_pack0(config.out, config.module)
    if other is not None:
        # build/ holds one module's files and its evidence names one Pack0 (verify calls another one extra).
        raise InputError(
            "the output folder holds another module's Pack0, and one folder builds one module: use another "
            "--out (several --module flags build each in OUT/<module>/)",
            file=str(other),
        )
    return config


@cache
def code_digest(*parts: str) -> str:
    """A digest of the factory's own code (subpackages or files under factory/): changed code re-runs the
    stages it makes."""
    digest = hashlib.sha256()
    for name in parts:
        for relative, data in _code_files(name):
            digest.update(relative.encode())
            digest.update(data)
    return digest.hexdigest()[:16]


@cache
def _code_files(name: str) -> tuple[tuple[str, bytes], ...]:
    """One part's files (relative to factory/, in path order) and bytes, read once per run: every stage's
    digest names some of the same parts (the engine, pec/), and a no-op computes them all."""
    root = FACTORY_DIR / name
    if root.is_file():
        return ((name, root.read_bytes()),)
    found = []
    for folder, folders, files in os.walk(root):
        folders[:] = [entry for entry in folders if entry != "__pycache__"]
        relative = Path(folder).relative_to(FACTORY_DIR).as_posix()
        found += [f"{relative}/{file}" for file in files if os.path.isfile(os.path.join(folder, file))]
    # In path order (by parts), as the digest has always been made.
    return tuple((path, (FACTORY_DIR / path).read_bytes()) for path in sorted(found, key=lambda path: path.split("/")))


def build_flags(config: BuildConfig, max_heal: int) -> dict:
    """The build's flags as provenance records them: no path (they name the machine), no secret."""
    return {
        "waive": sorted(config.waivers),
        "max_heal": max_heal,
        "provider": config.provider,
        "model": config.model,
        "auto_deploy": config.auto_deploy,
        "deploy_target": config.deploy_target,
        "sandbox": config.sandbox,
        "base_image": config.base_image or "",
        "test_timeout": config.test_timeout or 0,
        "signed": config.sign_key is not None,
    }

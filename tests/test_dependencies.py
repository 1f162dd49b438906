"""The suite's own dependencies come only from what pyproject.toml declares: every third-party import in
tests/, factory/, rules/ and benchmarks/ is provided by a distribution that `lai-factory` requires directly
(its main dependencies or the `test` extra). A package that merely happens to be installed, on this machine
or as some other package's dependency, does not count: it can vanish from a fresh venv at any release."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from conftest import ROOT

DISTRIBUTION = "lai-factory"
EXTRAS = ("test",)
SCANNED = ("tests", "factory", "rules", "benchmarks")
# Generated code: it runs in the generated module's own environment, with its own requirements.txt.
NOT_SCANNED = (ROOT / "factory/engine/templates",)
OWN_PACKAGES = frozenset({"factory", "rules", "dodo"})


def normalize(name: str) -> str:
    """A distribution's canonical name (PEP 503): `PyYAML`, `pyyaml` and `py_yaml` differ only in spelling."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_names(source: str, filename: str = "<source>") -> set[str]:
    """Top-level names of every module the source imports, anywhere in it (deferred imports inside functions
    included), plus `pytest.importorskip("name")`: a test that skips without a package still needs it."""
    names = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "importorskip"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def declared_distributions(requirements: Iterable[str], extras: Iterable[str]) -> set[str]:
    """Names in Requires-Dist lines that apply with no extra or with one of `extras` (markers otherwise ignored:
    the suite runs on Linux with Python >= 3.11)."""
    wanted = {normalize(extra) for extra in extras}
    declared = set()
    for requirement in requirements:
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if extra is None or normalize(extra.group(1)) in wanted:
            declared.add(normalize(name))
    return declared


def undeclared_imports(
    files: Iterable[Path],
    declared: set[str],
    providers: Mapping[str, list[str]],
    local: set[str],
) -> dict[str, str]:
    """Each third-party import no declared distribution provides -> 'file: why'. `providers` maps an import
    name to the distributions that install it (importlib.metadata.packages_distributions()); `local` is the
    project's own top-level names (its packages and the modules beside the scanned files)."""
    problems: dict[str, str] = {}
    for path in sorted(files):
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        for name in sorted(imported_names(path.read_text(encoding="utf-8"), str(path))):
            if name in sys.stdlib_module_names or name in local or name in problems:
                continue
            distributions = {normalize(dist) for dist in providers.get(name, [])}
            if not distributions:
                problems[name] = f"{where}: no installed distribution provides it (declare it in pyproject.toml)"
            elif not distributions & declared:
                problems[name] = (
                    f"{where}: comes from {', '.join(sorted(distributions))}, which pyproject.toml does not declare"
                )
    return problems


def project_files() -> list[Path]:
    return [
        path
        for folder in SCANNED
        for path in (ROOT / folder).rglob("*.py")
        if not any(skipped in path.parents for skipped in NOT_SCANNED)
    ]


def local_names(files: Iterable[Path]) -> set[str]:
    """The project's packages, and modules importable because they sit beside a test or script (conftest, pg):
    files in a folder that is not a package. A module inside a package never shadows a third-party name."""
    return set(OWN_PACKAGES) | {path.stem for path in files if not (path.parent / "__init__.py").exists()}


def installed_requirements() -> list[str]:
    return metadata.requires(DISTRIBUTION) or []


def test_every_third_party_import_is_declared_in_pyproject():
    files = project_files()
    assert len(files) > 50, "the scan found the project's files"
    declared = declared_distributions(installed_requirements(), EXTRAS)
    problems = undeclared_imports(files, declared, metadata.packages_distributions(), local_names(files))
    assert problems == {}, "imports not declared in pyproject.toml:\n" + "\n".join(
        f"  {name}: {why}" for name, why in sorted(problems.items())
    )


def test_the_installed_requirements_are_the_ones_in_pyproject():
    """The check reads the installed metadata; a stale install (pyproject edited, no `pip install -e` again)
    would make it judge old declarations."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    written = [*project["dependencies"], *(req for extra in EXTRAS for req in project["optional-dependencies"][extra])]
    assert declared_distributions(installed_requirements(), EXTRAS) == declared_distributions(written, []), (
        "run: pip install -e '.[test]'"
    )


def an_installed_but_undeclared_import(declared: set[str]) -> tuple[str, str]:
    """Some import name that is installed here only as another package's dependency (or by hand)."""
    for name, distributions in sorted(metadata.packages_distributions().items()):
        usable = name.isidentifier() and name not in sys.stdlib_module_names and not name.startswith("_")
        if usable and not {normalize(dist) for dist in distributions} & declared:
            return name, distributions[0]
    raise AssertionError("every installed distribution is declared: nothing to try the checker with")


def test_the_checker_flags_an_undeclared_and_an_uninstalled_import(tmp_path: Path):
    declared = declared_distributions(installed_requirements(), EXTRAS)
    sneaky, dist = an_installed_but_undeclared_import(declared)
    module = tmp_path / "test_synthetic.py"
    module.write_text(
        "import json, os.path\n"
        "from factory.cli import main\n"
        "import helper\n"
        "from hypothesis import given\n"
        "import docker.errors\n"
        f"def later():\n    import {sneaky}.sub\n"
        "def skipping(pytest):\n    pytest.importorskip('no_such_package_anywhere')\n"
    )
    problems = undeclared_imports(
        [module], declared, metadata.packages_distributions(), local_names([module, tmp_path / "helper.py"])
    )
    assert set(problems) == {sneaky, "no_such_package_anywhere"}
    assert normalize(dist) in problems[sneaky]
    assert "no installed distribution" in problems["no_such_package_anywhere"]


def test_requirements_count_only_the_main_dependencies_and_the_chosen_extras():
    requirements = [
        "doit<0.38,>=0.37",
        "PyYAML>=6",
        'hypothesis>=6.100; extra == "test"',
        "sphinx; extra == 'docs'",
        'tomli; python_version < "3.11"',
    ]
    assert declared_distributions(requirements, ["test"]) == {"doit", "pyyaml", "hypothesis", "tomli"}
    assert declared_distributions(requirements, []) == {"doit", "pyyaml", "tomli"}

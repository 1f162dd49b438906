"""Several modules: `build:<module>` per module (an ordinary lai-pack run in its own process and folder) and
`auto_full`, the summary over them. Wiring only; the work is in factory/many.py."""

from __future__ import annotations

from collections.abc import Iterator

from factory.many import ManyBuild, build_module, summarise
from rules.reporter import doit_config


def namespace(many: ManyBuild) -> dict:
    """What doit loads for several modules. The builds always run: each is incremental inside, by its own
    dependency database in OUT/<module>/."""

    def task_build() -> Iterator[dict]:
        yield {"basename": "build", "name": None, "doc": "one lai-pack run per module, each in OUT/<module>/"}
        for config in many.configs:
            yield {"name": config.module, "actions": [(build_module, (config, many.output))]}

    def task_auto_full() -> dict:
        return {
            "doc": f"build {len(many.configs)} modules (doit -n N: N at a time) and summarise them",
            "actions": [(summarise, (many,))],
            "getargs": {"results": ("build", None)},
            # getargs alone would skip the summary when every build returned what it did last time.
            "uptodate": [False],
        }

    return {
        "task_build": task_build,
        "task_auto_full": task_auto_full,
        "DOIT_CONFIG": doit_config(many.dep_file, many.output),
    }

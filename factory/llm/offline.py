"""The offline provider: a deterministic 'model' whose replies come from the engine, as JSON text.

It answers through the same reply models as a real model would, so the pipeline has one code path.
"""

from __future__ import annotations

from factory.agents.replies import FileSetReply, GeneratedFile, HealReply
from factory.agents.request import AgentRequest
from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import generate_scripts
from factory.engine.codegen import generate_source
from factory.engine.heal import propose_fix
from factory.engine.testgen import generate_tests


def _files(files: dict[str, str]) -> list[GeneratedFile]:
    return [GeneratedFile(path=path, content=content) for path, content in files.items()]


class OfflineProvider:
    name = "offline"
    model = "offline-engine"

    def complete(self, request: AgentRequest) -> str:
        pack0 = request.pack0
        if request.agent == "codegen":
            reply = FileSetReply(files=_files(generate_source(pack0)), notes="offline engine")
        elif request.agent == "testgen":
            reply = FileSetReply(files=_files(generate_tests(pack0)), notes="offline engine")
        elif request.agent == "healer":
            diagnosis, fixes = propose_fix(pack0, request.files, request.failure)
            reply = HealReply(diagnosis=diagnosis, files=_files(fixes))
        elif request.agent == "deployer":
            target = request.options["target"]
            files = {**generate_migrations(pack0, target), **generate_scripts(pack0)}
            reply = FileSetReply(files=_files(files), notes=f"offline engine, target {target}")
        else:
            raise ValueError(f"unknown agent {request.agent!r}")
        return reply.model_dump_json(indent=1)

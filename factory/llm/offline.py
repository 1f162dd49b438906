"""The offline provider: a deterministic 'model' whose replies come from the engine, as JSON text.

It answers through the same reply models as a real model would, so the pipeline has one code path.
"""

from __future__ import annotations

from factory.agents.replies import FileSetReply, GeneratedFile, HealReply
from factory.agents.request import AgentRequest, Completion
from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import compose_with_postgres, generate_scripts
from factory.engine.codegen import generate_core, generate_entity_source
from factory.engine.heal import propose_fix
from factory.engine.testgen import generate_core_tests, generate_entity_tests


def _files(files: dict[str, str]) -> list[GeneratedFile]:
    return [GeneratedFile(path=path, content=content) for path, content in files.items()]


def _slice_files(request: AgentRequest) -> dict[str, str]:
    pack0 = request.pack0
    core, per_entity = {
        "codegen": (generate_core, generate_entity_source),
        "testgen": (generate_core_tests, generate_entity_tests),
    }[request.agent]
    if request.slice == "core":
        return core(pack0)
    entity = next(entity for entity in pack0.entities if entity.name == request.slice)
    return per_entity(pack0, entity)


class OfflineProvider:
    name = "offline"
    model = "offline-engine"

    def request_key(self, request: AgentRequest) -> dict:
        return {"provider": self.name, "agent": request.agent, "slice": request.slice}

    def keep(self, request: AgentRequest, completion: Completion) -> None:
        """Nothing to store: the engine answers the same again for free."""

    def complete(self, request: AgentRequest) -> Completion:
        pack0 = request.pack0
        if request.agent in ("codegen", "testgen"):
            reply = FileSetReply(files=_files(_slice_files(request)), notes=f"offline engine, slice {request.slice}")
        elif request.agent == "healer":
            diagnosis, fixes = propose_fix(pack0, request.files, request.failure)
            reply = HealReply(diagnosis=diagnosis, files=_files(fixes))
        elif request.agent == "deployer":
            target = request.options["target"]
            files = {**generate_migrations(pack0, target), **generate_scripts(pack0)}
            if target == "compose":
                files["deploy/docker-compose.yml"] = compose_with_postgres(pack0)
            reply = FileSetReply(files=_files(files), notes=f"offline engine, target {target}")
        else:
            raise ValueError(f"unknown agent {request.agent!r}")
        return Completion(text=reply.model_dump_json(indent=1))

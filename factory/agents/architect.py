"""The Architect, the fifth agent: in LLM mode it designs the Pack0 (SRS, plan, entity contracts) from the
module name and the brief. Its reply goes through the same structured-reply path as every agent and is
validated by the Pack0 loader itself, with one corrective retry on the loader's first error."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from factory.agents.call import call_agent
from factory.agents.prompts import ARCHITECT_SYSTEM, architect_prompt, reference_architecture
from factory.agents.request import AgentRequest, Provider
from factory.errors import AgentReplyError, InputError
from factory.fsutil import write_new_tree
from factory.pack0.generate import JSON_SCHEMA_DRAFT, assemble_pack0
from factory.pack0.load import load_pack0
from factory.pack0.models import ENTITY_NAME_PATTERN, Budgets, Pack0Meta


class DesignedEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN.pattern)]
    contract: dict


class Pack0Design(BaseModel):
    """What the Architect answers: the parts of a Pack0 a model writes (the factory adds the rest)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    srs_markdown: Annotated[str, StringConstraints(min_length=1)]
    plan_markdown: Annotated[str, StringConstraints(min_length=1)]
    entities: list[DesignedEntity] = Field(min_length=1, max_length=60)


def design_files(module: str, brief: str, budgets: Budgets, design: Pack0Design) -> dict[str, str]:
    """The Pack0's files from a design. Pure; the loader checks them (see _check)."""
    meta = Pack0Meta(module=module, title=design.title, brief=brief)
    contracts = {
        entity.name: {
            **entity.contract,
            "$schema": JSON_SCHEMA_DRAFT,
            "$id": f"urn:lai-factory:{module}:{entity.name}",
        }
        for entity in design.entities
    }
    return assemble_pack0(meta, budgets, contracts, srs=design.srs_markdown, plan=design.plan_markdown)


def _check(module: str, brief: str, budgets: Budgets):
    def check(design: Pack0Design) -> None:
        """Load the designed Pack0 as a user's would be: its first problem goes back to the model."""
        if len({entity.name for entity in design.entities}) != len(design.entities):
            raise AgentReplyError("architect reply names an entity twice")
        with tempfile.TemporaryDirectory(prefix="lai-architect-") as temp:
            root = Path(temp) / "pack0"
            try:
                write_new_tree(root, design_files(module, brief, budgets, design))
                load_pack0(root)
            except (InputError, ValueError) as error:
                message = str(error).replace(f"{root}/", "")
                raise AgentReplyError(f"the designed Pack0 is not valid: {message}") from None

    return check


def design_pack0(provider: Provider, module: str, brief: str, budgets: Budgets, raw_log: Path | None) -> dict[str, str]:
    """Every file of a new Pack0, designed by the model."""
    # The reference architecture comes first, as for every agent: the model designs what the factory can build.
    request = AgentRequest(
        "architect", ARCHITECT_SYSTEM, architect_prompt(module, brief), None, context=(reference_architecture(),)
    )
    design = call_agent(provider, request, Pack0Design, raw_log, check=_check(module, brief, budgets))
    return design_files(module, brief, budgets, design)

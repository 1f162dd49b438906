"""Model calls one at a time (no build), through the real anthropic SDK against the local Messages API server
(tests/fake_llm.py), which behaves as the API does on limits, truncation, unknown models and prompt caching.

Each claim is checked by counting the requests the server received and what the cache and ledger hold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fake_llm import MODELS, EngineBackedModel, FakeModelServer, Scripted

from factory import claude_models
from factory.agents import call
from factory.agents.architect import design_pack0
from factory.agents.healer_prompt import healer_prompt
from factory.agents.prompts import CODEGEN_SYSTEM, context_blocks, reference_architecture, slice_prompt
from factory.agents.replies import FileSetReply
from factory.agents.request import AgentRequest
from factory.errors import AgentReplyError, UnsafePathError
from factory.fsutil import write_new_tree
from factory.llm.anthropic_provider import AnthropicProvider, ModelError
from factory.llm.cache import ReplyCache
from factory.llm.gateway import BudgetExceeded, ModelGateway, read_ledger, summarize, worst_case
from factory.llm.openai_provider import OpenAICompatibleProvider
from factory.llm.usage import PRICES
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0
from factory.pack0.models import Budgets

KEY = "sk-ant-test-" + "Zq8Xv3Lm7Pw2Rt5Yn"
MODEL = "claude-sonnet-4-6"


@pytest.fixture(scope="module")
def pack0_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("calls") / "pack0-crm-contacts-0.0.1"
    write_new_tree(root, generate_pack0("crm-contacts", "Contacts and companies of a small sales team."))
    return root


@pytest.fixture
def model(pack0_dir: Path):
    script = EngineBackedModel(pack0_dir)
    server = FakeModelServer(script, api_key=KEY).start()
    server.script_object = script
    yield server
    server.stop()


def gateway(server: FakeModelServer, tmp_path: Path, monkeypatch, name: str = MODEL, **kwargs) -> ModelGateway:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    budgets = kwargs.pop("budgets", Budgets())
    provider = AnthropicProvider(name, max_retries=kwargs.pop("max_retries", 0))
    return ModelGateway(provider, ReplyCache(tmp_path / "cache"), tmp_path / "usage.jsonl", budgets, **kwargs)


def engine_reply(model: FakeModelServer, agent: str, slice_name: str) -> dict:
    return json.loads(model.script_object(agent, slice_name, {"messages": [{"content": ""}]}).text)


# 1. Truncation --------------------------------------------------------------------------------------------


def test_a_reply_cut_at_a_file_boundary_is_continued_and_merged(model, pack0_dir, tmp_path, monkeypatch):
    whole = engine_reply(model, "codegen", "core")
    text = json.dumps(whole)
    sixth = text.index('{"path": ', text.index(whole["files"][5]["path"]) - 12)  # where file 6 starts
    model.script_object.before = [Scripted(text, stop_after=sixth)]
    provider = gateway(model, tmp_path, monkeypatch)
    reply = call.codegen(provider, load_pack0(pack0_dir), "core", None)
    assert reply.as_dict() == FileSetReply.model_validate(whole).as_dict(), "all files, none twice"
    assert len(model.requests) == 2
    continuation = model.requests[1]["body"]["messages"][0]["content"]
    assert "cut off at the output limit" in continuation and whole["files"][4]["path"] in continuation
    assert whole["files"][5]["path"] not in continuation.split("are kept: ")[1]
    model.reset()
    again = call.codegen(provider, load_pack0(pack0_dir), "core", None)
    assert again.as_dict() == reply.as_dict() and model.requests == [], "the merged reply is cached whole"


def test_a_reply_cut_inside_its_only_file_fails_saying_so_and_is_not_cached(model, pack0_dir, tmp_path, monkeypatch):
    text = json.dumps(engine_reply(model, "codegen", "contact"))
    model.script_object.before = [Scripted(text, stop_after=len(text) // 2)]
    provider = gateway(model, tmp_path, monkeypatch)
    with pytest.raises(AgentReplyError, match=r"codegen:contact reply was truncated at the output limit \(max_tokens"):
        call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert provider.cache.stats()["entries"] == 0
    assert read_ledger(tmp_path / "usage.jsonl")[0]["truncated"] is True


def test_max_tokens_follows_the_model_and_a_lower_api_limit_is_taken_once(model, pack0_dir, tmp_path, monkeypatch):
    model.models[MODEL] = (20_000, 1_024)  # the API allows less than the table says
    provider = gateway(model, tmp_path, monkeypatch)
    assert provider.provider.max_tokens == claude_models.max_output_tokens(MODEL) == 64_000
    reply = call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert reply.files
    assert [r["body"]["max_tokens"] for r in model.requests] == [64_000, 20_000]
    assert claude_models.max_output_tokens("some-new-model") == claude_models.SAFE_MAX_TOKENS


# 2. Only good replies are cached ---------------------------------------------------------------------------


def test_an_invalid_reply_is_retried_and_only_the_good_one_is_cached(model, pack0_dir, tmp_path, monkeypatch):
    model.script_object.before = [Scripted(json.dumps({"file": []}))]
    provider = gateway(model, tmp_path, monkeypatch)
    reply = call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert reply.files and len(model.requests) == 2
    correction = model.requests[1]["body"]["messages"][-1]["content"]
    assert "did not validate" in correction and "files" in correction
    assert provider.cache.stats()["entries"] == 1
    model.reset()
    assert call.codegen(provider, load_pack0(pack0_dir), "contact", None).as_dict() == reply.as_dict()
    assert model.requests == [], "the first request now finds the good reply"


def test_a_reply_with_an_unsafe_path_is_not_cached(model, pack0_dir, tmp_path, monkeypatch):
    bad = {"files": [{"path": "../outside.py", "content": "x = 1\n"}]}
    model.script_object.before = [Scripted(json.dumps(bad)), Scripted(json.dumps(bad))]
    provider = gateway(model, tmp_path, monkeypatch)
    with pytest.raises(UnsafePathError, match="refused file path"):
        call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert provider.cache.stats()["entries"] == 0


def test_cache_clear_by_slice_or_agent_removes_only_those(model, pack0_dir, tmp_path, monkeypatch):
    provider = gateway(model, tmp_path, monkeypatch)
    pack0 = load_pack0(pack0_dir)
    for name in ("core", "contact", "company"):
        call.codegen(provider, pack0, name, None)
    call.testgen(provider, pack0, "contact", {}, None)
    assert provider.cache.clear(slice_name="contact") == 2
    assert provider.cache.clear(agent="codegen") == 2
    assert provider.cache.stats()["entries"] == 0


# 3. Budgets -------------------------------------------------------------------------------------------------


def test_the_worst_case_of_a_call_must_fit_the_token_budget(model, pack0_dir, tmp_path, monkeypatch):
    provider = gateway(model, tmp_path, monkeypatch, budgets=Budgets(token_budget=64_000 + 1_000))
    with pytest.raises(BudgetExceeded, match="stopped before the codegen:contact call: it could pass the token"):
        call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert model.requests == []


def test_calls_stop_before_the_cost_budget_and_never_pass_it(model, pack0_dir, tmp_path, monkeypatch):
    pack0 = load_pack0(pack0_dir)
    first = AgentRequest(
        "codegen",
        CODEGEN_SYSTEM,
        slice_prompt("codegen", pack0, "core"),
        pack0,
        context=context_blocks(pack0),
        slice="core",
        reply_schema=FileSetReply.model_json_schema(),
    )
    _tokens, first_worst = worst_case(first, 64_000, PRICES["claude-sonnet-"])
    budget = round(first_worst + 0.01, 4)  # room for the first call's worst case, not for a second one
    provider = gateway(model, tmp_path, monkeypatch, budgets=Budgets(cost_budget_usd=budget))
    call.codegen(provider, pack0, "core", None)
    with pytest.raises(BudgetExceeded, match="could pass the cost budget"):
        call.codegen(provider, pack0, "contact", None)
    spent = summarize(read_ledger(tmp_path / "usage.jsonl"))
    assert 0.01 < spent["cost_usd"] <= budget and len(model.requests) == 1


def test_a_model_without_a_price_refuses_a_cost_budget_unless_priced(model, pack0_dir, tmp_path, monkeypatch):
    model.models["claude-fable-5"] = (64_000, 1_024)
    provider = gateway(model, tmp_path, monkeypatch, name="claude-fable-5")
    with pytest.raises(BudgetExceeded, match=r"no price is known for model claude-fable-5.*model_price"):
        call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert model.requests == []
    priced = gateway(model, tmp_path, monkeypatch, name="claude-fable-5", prices=(2.0, 10.0, 2.5, 0.2))
    call.codegen(priced, load_pack0(pack0_dir), "contact", None)
    assert summarize(read_ledger(tmp_path / "usage.jsonl"))["cost_usd"] > 0


# 4. Prompt caching ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_stable_prefix_reaches_every_models_cache_minimum(name):
    tokens = len(reference_architecture()) // 4  # the local server's count; real tokenisers give more
    assert tokens >= MODELS[name][1]
    assert tokens >= claude_models.cache_minimum_tokens(name)


def test_cache_reads_count_only_prefixes_over_the_minimum(model, pack0_dir, tmp_path, monkeypatch):
    provider = gateway(model, tmp_path, monkeypatch)
    pack0 = load_pack0(pack0_dir)
    call.codegen(provider, pack0, "contact", None)
    call.codegen(provider, pack0, "company", None)
    ledger = read_ledger(tmp_path / "usage.jsonl")
    assert ledger[0]["usage"]["cache_read_tokens"] == 0 and ledger[0]["usage"]["cache_write_tokens"] > 4_000
    assert ledger[1]["usage"]["cache_read_tokens"] >= ledger[0]["usage"]["cache_write_tokens"]
    model.models[MODEL] = (64_000, 10**6)  # a model whose minimum the prefix does not reach
    model.cached_prefixes.clear()
    call.codegen(provider, pack0, "core", None)
    call.testgen(provider, pack0, "core", {}, None)
    assert all(entry["usage"]["cache_read_tokens"] == 0 for entry in read_ledger(tmp_path / "usage.jsonl")[2:])


def test_srs_and_plan_are_context_blocks_after_the_stable_one(pack0_dir):
    pack0 = load_pack0(pack0_dir)
    blocks = context_blocks(pack0)
    assert blocks[0] == reference_architecture() and "crm" not in blocks[0]
    assert (pack0_dir / "docs/PLAN.md").read_text() in blocks[1]
    assert (pack0_dir / "docs/SRS.md").read_text() in blocks[2]
    assert "Contacts and companies of a small sales team." in blocks[2]


# 5. The Healer's prompt -------------------------------------------------------------------------------------


def test_the_healer_prompt_carries_the_implicated_files_not_the_whole_build(pack0_dir, monkeypatch):
    from factory.engine.codegen import generate_source
    from factory.engine.testgen import generate_tests

    pack0 = load_pack0(pack0_dir)
    files = {**generate_source(pack0), **generate_tests(pack0)}
    failure = (
        "FAILED tests/integration/test_contacts_api.py::test_get_of_another_tenant_is_404\n"
        'File "BUILD/src/crm_contacts/storage.py", line 40, in get\nAssertionError: 200 != 404'
    )
    prompt = healer_prompt(pack0, files, failure)
    assert "--- src/crm_contacts/storage.py" in prompt and "--- tests/integration/test_contacts_api.py" in prompt
    assert "--- tests/contract_openapi.json" not in prompt and "--- src/crm_contacts/openapi.json" not in prompt
    assert "Contract of contact" in prompt and "Contract of company" not in prompt
    assert len(prompt) < 0.6 * sum(len(text) for text in files.values())
    monkeypatch.setattr("factory.agents.healer_prompt.MAX_PROMPT_FILE_CHARS", 5_000)
    capped = healer_prompt(pack0, files, failure)
    left_out = re.search(r"Left out by the size cap \(5000 characters\): (.*)", capped).group(1).split(", ")
    assert left_out and all(f"--- {path}\n" not in capped for path in left_out)


# 7. The default model, deprecation, unknown models -----------------------------------------------------------


def test_the_default_is_the_newest_sonnet_the_sdk_lists_and_not_deprecated():
    from typing import get_args

    from anthropic._data.deprecated_models import DEPRECATED_MODELS
    from anthropic.types.model_param import ModelParam

    names, deprecated = claude_models.sdk_models()  # read from the SDK's files, without importing it
    assert list(names) == [a for m in get_args(ModelParam) for a in get_args(m) if isinstance(a, str)]
    assert deprecated == DEPRECATED_MODELS
    sonnets = [n for n in names if n.startswith("claude-sonnet-") and not re.search(r"\d{8}$", n)]
    current = [n for n in sonnets if n not in deprecated]
    version = lambda n: tuple(int(p) for p in n.removeprefix("claude-sonnet-").split("-"))  # noqa: E731
    assert claude_models.default_model() == max(current, key=version)
    assert claude_models.default_model() not in deprecated
    synthetic = ("claude-sonnet-4-5", "claude-sonnet-4-20250514", "claude-sonnet-5", "claude-sonnet-4-6")
    assert claude_models.newest_sonnet(synthetic, {"claude-sonnet-5": "soon"}) == "claude-sonnet-4-6"


def test_a_deprecated_model_warns(monkeypatch):
    monkeypatch.setattr(
        claude_models,
        "sdk_models",
        lambda: (("claude-sonnet-4-5", "claude-sonnet-4-6"), {"claude-sonnet-4-5": "May 1st"}),
    )
    assert "model claude-sonnet-4-5 is deprecated (retired on May 1st)" in claude_models.deprecation_warning(
        "claude-sonnet-4-5"
    )
    assert claude_models.deprecation_warning("claude-sonnet-4-6") is None


def test_an_unknown_model_is_one_line_naming_it_after_one_request(model, pack0_dir, tmp_path, monkeypatch):
    provider = gateway(model, tmp_path, monkeypatch, name="claude-sonnet-4-20250514", max_retries=2)
    with pytest.raises(ModelError) as caught:
        call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert str(caught.value) == (
        "the Anthropic API does not know the model 'claude-sonnet-4-20250514' (404): choose another with --model"
    )
    assert len(model.requests) == 1


# Structured replies and the SDK's retries --------------------------------------------------------------------


@pytest.mark.parametrize("wrapping", ["Here you go:\n{}\nThanks!", "```json\n{}\n```"])
def test_a_reply_in_prose_or_fences_is_recovered(model, pack0_dir, tmp_path, monkeypatch, wrapping: str):
    good = engine_reply(model, "codegen", "contact")
    model.script_object.before = [Scripted(wrapping.replace("{}", json.dumps(good)), as_tool=False)]
    reply = call.codegen(gateway(model, tmp_path, monkeypatch), load_pack0(pack0_dir), "contact", None)
    assert reply.as_dict() == FileSetReply.model_validate(good).as_dict()
    assert len(model.requests) == 1


def test_an_overloaded_reply_is_retried_by_the_sdk(model, pack0_dir, tmp_path, monkeypatch):
    model.script_object.before = [Scripted(status=529, error_type="overloaded_error", headers={"retry-after-ms": "20"})]
    reply = call.codegen(gateway(model, tmp_path, monkeypatch, max_retries=2), load_pack0(pack0_dir), "contact", None)
    assert reply.files and len(model.requests) == 2


def test_openai_compatible_endpoint(model, pack0_dir: Path, monkeypatch):
    monkeypatch.setenv("LAI_OPENAI_BASE_URL", model.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    reply = call.codegen(OpenAICompatibleProvider("llama3.1"), load_pack0(pack0_dir), "contact", None)
    assert "src/crm_contacts/resources/contact.py" in reply.as_dict()
    assert [r["path"] for r in model.requests] == ["/v1/chat/completions"]
    assert model.requests[0]["body"]["response_format"] == {"type": "json_object"}


# 8. The Architect -------------------------------------------------------------------------------------------


def test_the_architect_gets_one_corrective_retry_with_the_loaders_error(model, tmp_path, monkeypatch):
    bad = json.loads(json.dumps(model.script_object.design))
    bad["entities"][0]["contract"]["properties"]["plate"]["type"] = "text"
    model.script_object.before = [Scripted(json.dumps(bad))]
    provider = gateway(model, tmp_path, monkeypatch)
    files = design_pack0(provider, "fleet-maintenance", "vehicles and their upkeep", Budgets(), None)
    assert sorted(p for p in files if p.startswith("contracts/")) == [
        "contracts/openapi.json",
        "contracts/vehicle.schema.json",
        "contracts/work_order.schema.json",
    ]
    correction = model.requests[1]["body"]["messages"][-1]["content"]
    assert "contracts/vehicle.schema.json" in correction and "properties.plate.type" in correction
    assert str(tmp_path) not in correction and "/tmp/" not in correction
    assert provider.cache.stats()["entries"] == 1

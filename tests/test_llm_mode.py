"""LLM mode through the real anthropic and openai SDKs, against a local server that speaks their APIs.

Every claim is checked by counting the requests the server received.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli
from fake_llm import EngineBackedModel, FakeModelServer, Scripted

from factory.agents import call
from factory.agents.replies import FileSetReply
from factory.llm.anthropic_provider import AnthropicProvider
from factory.llm.openai_provider import OpenAICompatibleProvider
from factory.pack0.load import load_pack0

KEY = "sk-ant-test-" + "Zq8Xv3Lm7Pw2Rt5Yn"


@pytest.fixture
def pack0_dir(tmp_path: Path) -> Path:
    assert run_cli("pack0", "--module", "crm-contacts", "--out", tmp_path).returncode == 0
    root = tmp_path / "pack0-crm-contacts-0.0.1"
    deal = json.loads((root / "contracts/company.schema.json").read_text())
    deal.update(
        title="Deal",
        properties={"name": {"type": "string", "maxLength": 80}, "value": {"type": "number"}},
        required=["name"],
    )
    deal.pop("x-plural")
    (root / "contracts/deal.schema.json").write_text(json.dumps(deal))
    return root


@pytest.fixture
def model(pack0_dir: Path):
    script = EngineBackedModel(pack0_dir)
    server = FakeModelServer(script, api_key=KEY).start()
    server.script_object = script
    yield server
    server.stop()


def llm_env(server: FakeModelServer, cache: Path, key: str = KEY) -> dict[str, str]:
    return factory_env(ANTHROPIC_API_KEY=key, ANTHROPIC_BASE_URL=server.url, LAI_CACHE_DIR=str(cache))


def build(pack0_dir: Path, out: Path, env: dict[str, str], *extra: str):
    args = ("auto-build", "--module", "crm-contacts", "--pack0", pack0_dir, "--out", out, "--waive", "docker-build")
    return run_cli(*args, *extra, env=env)


SLICES = ["core", "company", "contact", "deal"]


def test_llm_build_heals_a_scripted_bug_and_a_rerun_makes_no_request(model, pack0_dir: Path, tmp_path: Path):
    model.script_object.plant_bug = True
    env, out = llm_env(model, tmp_path / "cache"), tmp_path / "out"
    result = build(pack0_dir, out, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert model.calls() == [("codegen", s) for s in SLICES] + [("testgen", s) for s in SLICES] + [("healer", "")]
    assert "codegen:core: ~" in result.stdout and "tokens received" in result.stdout, "tokens shown as they stream"
    assert "healer: " in result.stdout and "tokens, done" in result.stdout
    report = read_json(out / "build/run_report.json")
    assert report["provider"] == "anthropic"
    assert [(t["files_changed"], t["outcome"]) for t in report["heal"]["heal_log"]] == [
        (["src/crm_contacts/storage.py"], "fixed")
    ]
    assert report["usage"]["requests"] == 9 and report["usage"]["output_tokens"] > 0
    assert report["usage"]["cache_read_tokens"] > 0, "the shared Pack0 prefix should be read from the prompt cache"
    assert report["usage"]["cost_usd"] > 0
    assert read_json(out / "build/pipeline_result.json")["usage"] == report["usage"]

    model.reset()
    assert build(pack0_dir, out, env).returncode == 0
    assert model.calls() == []

    # A fresh output folder (a fresh clone) with the same cache: the same replies, no request.
    fresh = build(pack0_dir, tmp_path / "fresh", env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert model.calls() == []
    assert KEY not in "".join(p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())


def test_heal_resumes_at_the_next_try_and_replays_from_the_cache(model, pack0_dir: Path, tmp_path: Path):
    model.script_object.plant_bug = True
    model.script_object.useless_heals = 1
    env, out = llm_env(model, tmp_path / "cache"), tmp_path / "out"
    first = build(pack0_dir, out, env, "--max-heal", "1")
    assert first.returncode == 1
    assert model.calls().count(("healer", "")) == 1
    assert read_json(out / "build/run_report.json")["heal"]["heal_log"][0]["outcome"] == "still failing"

    model.reset()
    second = build(pack0_dir, out, env, "--max-heal", "2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming after try 1" in second.stdout
    assert model.calls() == [("healer", "")], "only try 2 is new"
    heal_log = read_json(out / "build/run_report.json")["heal"]["heal_log"]
    assert [(t["number"], t["outcome"]) for t in heal_log] == [(1, "still failing"), (2, "fixed")]

    model.reset()
    replay = build(pack0_dir, tmp_path / "again", env, "--max-heal", "2")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert model.calls() == [], "the same inputs replay every try from the cache"
    replayed = read_json(tmp_path / "again/build/run_report.json")["heal"]["heal_log"]
    assert [t["inputs_sha256"] for t in replayed] == [t["inputs_sha256"] for t in heal_log]


def test_editing_one_entity_requests_only_its_slice(model, pack0_dir: Path, tmp_path: Path):
    env, out = llm_env(model, tmp_path / "cache"), tmp_path / "out"
    assert build(pack0_dir, out, env).returncode == 0
    model.reset()
    contract_path = pack0_dir / "contracts/deal.schema.json"
    contract = json.loads(contract_path.read_text())
    contract["properties"]["stage"] = {"type": "string", "enum": ["open", "won", "lost"]}
    contract_path.write_text(json.dumps(contract))
    result = build(pack0_dir, out, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert model.calls() == [("codegen", "deal"), ("testgen", "deal")]
    assert '"stage"' in (out / "build/tests/cases/deals.json").read_text()


def test_budget_stops_before_the_call_that_would_pass_it(model, pack0_dir: Path, tmp_path: Path):
    budgets = json.loads((pack0_dir / "budgets.json").read_text())
    budgets["token_budget"] = 500
    (pack0_dir / "budgets.json").write_text(json.dumps(budgets))
    result = build(pack0_dir, tmp_path / "out", llm_env(model, tmp_path / "cache"))
    assert result.returncode == 1
    assert "stopped before the codegen:core call: it would pass the token budget" in result.stderr
    assert model.calls() == []


def test_a_wrong_key_gets_one_clear_line_without_the_key(model, pack0_dir: Path, tmp_path: Path):
    wrong = "sk-ant-wrong-" + "Kd93Jf82Hs71Ga60"
    result = build(pack0_dir, tmp_path / "out", llm_env(model, tmp_path / "cache", key=wrong))
    assert result.returncode == 1
    assert "the Anthropic API refused the key (401): check ANTHROPIC_API_KEY" in result.stderr
    everything = (
        result.stdout
        + result.stderr
        + "".join(p.read_text(errors="ignore") for p in (tmp_path / "out").rglob("*") if p.is_file())
    )
    assert wrong not in everything
    assert len(model.calls()) == 1, "a 401 is not retried"


def _provider(server: FakeModelServer, monkeypatch) -> AnthropicProvider:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    return AnthropicProvider("claude-sonnet-4-20250514", max_retries=2)


@pytest.mark.parametrize("wrapping", ["Here you go:\n{}\nThanks!", "```json\n{}\n```"])
def test_a_reply_in_prose_or_fences_is_recovered(model, pack0_dir: Path, monkeypatch, wrapping: str):
    pack0 = load_pack0(pack0_dir)
    good = json.loads(model.script_object("codegen", "deal", {}).text)
    model.script_object.before = [Scripted(wrapping.replace("{}", json.dumps(good)), as_tool=False)]
    reply = call.codegen(_provider(model, monkeypatch), pack0, "deal", None)
    assert reply.as_dict() == FileSetReply.model_validate(good).as_dict()
    assert len(model.calls()) == 1


def test_an_invalid_reply_gets_one_corrective_retry(model, pack0_dir: Path, monkeypatch):
    pack0 = load_pack0(pack0_dir)
    model.script_object.before = [Scripted(json.dumps({"file": []}))]
    reply = call.codegen(_provider(model, monkeypatch), pack0, "deal", None)
    assert reply.files
    assert len(model.calls()) == 2
    correction = model.requests[1]["body"]["messages"][-1]["content"]
    assert "did not validate" in correction and "files" in correction


def test_an_overloaded_reply_is_retried_by_the_sdk(model, pack0_dir: Path, monkeypatch):
    pack0 = load_pack0(pack0_dir)
    model.script_object.before = [Scripted(status=529, error_type="overloaded_error", headers={"retry-after-ms": "20"})]
    reply = call.codegen(_provider(model, monkeypatch), pack0, "deal", None)
    assert reply.files
    assert len(model.calls()) == 2


def test_openai_compatible_endpoint(model, pack0_dir: Path, monkeypatch):
    monkeypatch.setenv("LAI_OPENAI_BASE_URL", model.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    provider = OpenAICompatibleProvider("llama3.1")
    reply = call.codegen(provider, load_pack0(pack0_dir), "contact", None)
    assert "src/crm_contacts/resources/contact.py" in reply.as_dict()
    assert [r["path"] for r in model.requests] == ["/v1/chat/completions"]
    assert model.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_cache_stats_and_clear(model, pack0_dir: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    assert build(pack0_dir, tmp_path / "out", llm_env(model, cache)).returncode == 0
    stats = run_cli("cache", "stats", "--cache-dir", cache)
    assert f"cache {cache}: 8 replies" in stats.stdout
    assert "8 replies removed" in run_cli("cache", "clear", "--cache-dir", cache).stdout
    assert ": 0 replies" in run_cli("cache", "stats", "--cache-dir", cache).stdout


def test_deployer_output_passes_the_postgres_round_trip(model, pack0_dir: Path, tmp_path: Path, database: str):
    from pg import AUTH_SHIM, psql
    from test_deploy import assert_round_trip

    env, out = llm_env(model, tmp_path / "cache"), tmp_path / "out"
    result = build(pack0_dir, out, env, "--auto-deploy", "--deploy-target", "supabase")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("deployer", "") in model.calls()
    psql(database, AUTH_SHIM)
    assert_round_trip(out / "build", load_pack0(pack0_dir), database, rls=True)


def test_the_api_key_is_never_written_or_printed(model, pack0_dir: Path, tmp_path: Path):
    key = "sk-ant-RECOGNISABLE-" + "Fk3Lm9Qp2Zx7Wv4Ty8"
    model.api_key = key
    model.script_object.plant_bug = True
    env = llm_env(model, tmp_path / "cache", key=key)
    healed = build(pack0_dir, tmp_path / "out", env)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    always_failing = Scripted(status=500, error_type="api_error", headers={"retry-after-ms": "5"})
    model.script_object.before = [always_failing] * 10
    failed = build(pack0_dir, tmp_path / "failed", llm_env(model, tmp_path / "other-cache", key=key))
    assert failed.returncode == 1 and "answered 500 after retries" in failed.stderr
    printed = healed.stdout + healed.stderr + failed.stdout + failed.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) > 50
    assert key not in printed
    assert all(key.encode() not in path.read_bytes() for path in written)

"""LLM mode end to end: lai-pack through the real anthropic SDK against the local Messages API server
(tests/fake_llm.py). Builds are shared where a test only reads them; call-level behaviour is in
test_llm_calls.py. Every claim is checked by counting the requests the server received.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, factory_env, read_json, run_cli, seed_fuzz_results
from fake_llm import BUG, TENANT_FILTER, EngineBackedModel, FakeModelServer, Scripted

from factory.config import BuildConfig
from factory.errors import InputError
from factory.fsutil import write_new_tree
from factory.llm.anthropic_provider import AnthropicProvider
from factory.llm.cache import ReplyCache
from factory.llm.gateway import ModelGateway
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0
from factory.pack0.models import Budgets
from factory.runner.heal_loop import run_with_heal
from factory.stages import pack0 as pack0_stage

KEY = "sk-ant-RECOGNISABLE-" + "Fk3Lm9Qp2Zx7Wv4Ty8"
SLICES = ["core", "company", "contact", "deal"]


def make_pack0(folder: Path) -> Path:
    root = folder / "pack0-crm-contacts-0.0.1"
    write_new_tree(root, generate_pack0("crm-contacts"))
    deal = json.loads((root / "contracts/company.schema.json").read_text())
    deal.update(
        title="Deal",
        properties={"name": {"type": "string", "maxLength": 80}, "value": {"type": "number"}},
        required=["name"],
    )
    deal.pop("x-plural")
    (root / "contracts/deal.schema.json").write_text(json.dumps(deal))
    return root


def serve(pack0_dir: Path) -> FakeModelServer:
    script = EngineBackedModel(pack0_dir)
    server = FakeModelServer(script, api_key=KEY).start()
    server.script_object = script
    return server


def llm_env(server: FakeModelServer, cache: Path, key: str = KEY) -> dict[str, str]:
    cache = seed_fuzz_results(cache)
    return factory_env(ANTHROPIC_API_KEY=key, ANTHROPIC_BASE_URL=server.url, LAI_CACHE_DIR=str(cache))


def build(pack0_dir: Path, out: Path, env: dict[str, str], *extra: str):
    args = ("auto-build", "--module", "crm-contacts", "--pack0", pack0_dir, "--out", out, "--waive", "docker-build")
    return run_cli(*args, *extra, env=env)


def build_reporting_sdk(pack0_dir: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """build(), in a process that says at its end whether it loaded the anthropic SDK (test_noop's probe)."""
    from test_noop import PROBE

    args = ("auto-build", "--module", "crm-contacts", "--pack0", pack0_dir, "--out", out, "--waive", "docker-build")
    argv = [sys.executable, "-c", PROBE % (("anthropic",),), *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)


@pytest.fixture(scope="module")
def healed(tmp_path_factory: pytest.TempPathFactory):
    """One LLM build with a bug planted in the core slice, healed. Read it; copy what you change."""
    folder = tmp_path_factory.mktemp("llm")
    pack0_dir = make_pack0(folder)
    server = serve(pack0_dir)
    server.script_object.plant_bug = True
    out, cache = folder / "out", folder / "cache"
    result = build(pack0_dir, out, llm_env(server, cache))
    shutil.copytree(cache, folder / "cache-after-build")
    yield {
        "server": server,
        "requests": list(server.requests),
        "result": result,
        "out": out,
        "cache": cache,
        "pack0": pack0_dir,
        "cache_after_build": folder / "cache-after-build",
    }
    server.stop()


@pytest.fixture
def model(tmp_path: Path):
    server = serve(make_pack0(tmp_path))
    server.pack0_dir = server.script_object.pack0_dir
    yield server
    server.stop()


def test_llm_build_heals_a_scripted_bug_and_reruns_make_no_request(healed, tmp_path: Path):
    result, out, server, requests = healed["result"], healed["out"], healed["server"], healed["requests"]
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [(entry["agent"], entry["slice"]) for entry in requests]
    assert calls == [("codegen", s) for s in SLICES] + [("testgen", s) for s in SLICES] + [("healer", "")]
    assert "codegen:core: ~" in result.stdout and "tokens received" in result.stdout, "tokens shown as they stream"
    report = read_json(out / "build/run_report.json")
    assert report["provider"] == "anthropic"
    assert [(t["files_changed"], t["outcome"]) for t in report["heal"]["heal_log"]] == [
        (["src/crm_contacts/storage.py"], "fixed")
    ]
    usage = report["usage"]
    assert usage["requests"] == 9 and usage["output_tokens"] > 0 and usage["cost_usd"] > 0
    # The local server counts cache reads as the API does (prefix at least the model's minimum).
    sent = usage["input_tokens"] + usage["cache_write_tokens"] + usage["cache_read_tokens"]
    assert usage["cache_read_tokens"] >= 0.5 * sent, usage
    assert read_json(out / "build/pipeline_result.json")["usage"] == usage
    # The requirements reach every agent; the Healer sees the implicated files, not the whole build twice.
    srs = (out / "pack0/pack0-crm-contacts-0.0.1/docs/SRS.md").read_text()
    assert all(srs in entry["body"]["system"][2]["text"] for entry in requests)
    heal_prompt = requests[-1]["body"]["messages"][0]["content"]
    assert "--- src/crm_contacts/storage.py" in heal_prompt and '"openapi": "3.1' not in heal_prompt

    server.reset()
    env = llm_env(server, healed["cache"])
    assert build(healed["pack0"], out, env).returncode == 0
    assert server.calls() == []
    # A fresh output folder (a fresh clone) with the cache copied elsewhere: the same replies, no request.
    cache_copy = tmp_path / "cache-copy"
    shutil.copytree(healed["cache"], cache_copy)
    fresh = build_reporting_sdk(healed["pack0"], tmp_path / "fresh", llm_env(server, cache_copy))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert server.calls() == []
    assert "LOADED [0, []]" in fresh.stdout, "every reply from the cache: the SDK (~1.4 s to import) is not loaded"
    # The core reply was proven bad and fixed by the Healer: the fix comes with it, no heal try is needed.
    assert read_json(tmp_path / "fresh/build/run_report.json")["heal"]["heal_log"] == []

    # Editing one entity re-asks only its two slices, and they read every context block from the cache.
    contract_path = healed["pack0"] / "contracts/deal.schema.json"
    contract = json.loads(contract_path.read_text())
    contract["properties"]["stage"] = {"type": "string", "enum": ["open", "won", "lost"]}
    contract_path.write_text(json.dumps(contract))
    ledger_path = out / "build/.factory_logs/usage.jsonl"
    before = len(ledger_path.read_text().splitlines())
    edited = build(healed["pack0"], out, env)
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert server.calls() == [("codegen", "deal"), ("testgen", "deal")]
    assert '"stage"' in (out / "build/tests/cases/deals.json").read_text()
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()[before:]]
    edit = [entry["usage"] for entry in ledger if not entry["cached"]]
    assert len(edit) == 2 and all(u["cache_read_tokens"] > u["input_tokens"] for u in edit), "earlier breakpoints kept"
    printed = result.stdout + result.stderr + fresh.stdout + fresh.stderr + edited.stdout + edited.stderr
    written = [path for path in [*out.rglob("*"), *(tmp_path / "fresh").rglob("*")] if path.is_file()]
    assert len(written) > 50 and KEY not in printed
    assert all(KEY.encode() not in path.read_bytes() for path in written), "the API key is never written"


def test_cache_clear_by_slice_then_only_that_slice_is_asked_again(healed, tmp_path: Path):
    cache = tmp_path / "cache"
    shutil.copytree(healed["cache_after_build"], cache)
    assert ReplyCache(cache).stats()["entries"] == 9
    cleared = run_cli("cache", "clear", "--slice", "deal", "--cache-dir", cache)
    assert "2 replies of slice deal removed" in cleared.stdout
    assert (
        "1 replies of agent healer removed"
        in run_cli("cache", "clear", "--agent", "healer", "--cache-dir", cache).stdout
    )
    assert ": 6 replies" in run_cli("cache", "stats", "--cache-dir", cache).stdout


def test_heal_stops_when_a_try_reproduces_the_failure_and_resumes_later(healed, tmp_path: Path, monkeypatch):
    build_dir = tmp_path / "build"
    shutil.copytree(healed["out"] / "build", build_dir)
    storage = build_dir / "src/crm_contacts/storage.py"
    storage.write_text(storage.read_text().replace(TENANT_FILTER, BUG))
    (build_dir / ".factory_logs/heal_log.json").unlink()
    server = healed["server"]
    server.reset()
    server.script_object.useless_heals = 1
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    provider = ModelGateway(
        AnthropicProvider("claude-sonnet-4-6", max_retries=0),
        ReplyCache(tmp_path / "cache"),
        tmp_path / "u.jsonl",
        Budgets(),
    )
    pack0 = load_pack0(healed["out"] / "pack0/pack0-crm-contacts-0.0.1")
    logs = build_dir / ".factory_logs"
    first = run_with_heal(build_dir, logs, pack0, provider, 4, lambda _: None)
    assert not first.passed and server.calls() == [("healer", "")], "no second try from the same failure"
    assert "reproduced the previous failure unchanged" in first.stop_reason
    assert first.stop_report["kind"] == "unchanged failure"
    assert first.stop_report["files_changed"] == ["src/crm_contacts/storage.py"]

    server.reset()
    said: list[str] = []
    second = run_with_heal(build_dir, logs, pack0, provider, 4, said.append)
    assert second.passed and "resuming after try 1" in said[0]
    assert server.calls() == [("healer", "")], "only try 2 is new"
    assert [(t.number, t.outcome) for t in second.tries] == [(1, "still failing"), (2, "fixed")]


def test_budget_stops_before_the_call_that_could_pass_it(model, tmp_path: Path):
    budgets = json.loads((model.pack0_dir / "budgets.json").read_text())
    budgets["token_budget"] = 500
    (model.pack0_dir / "budgets.json").write_text(json.dumps(budgets))
    result = build(model.pack0_dir, tmp_path / "out", llm_env(model, tmp_path / "cache"))
    assert result.returncode == 1
    assert "stopped before the codegen:core call: it could pass the token budget" in result.stderr
    assert model.calls() == []


def test_a_wrong_key_gets_one_clear_line_without_the_key(model, tmp_path: Path):
    wrong = "sk-ant-wrong-" + "Kd93Jf82Hs71Ga60"
    result = build(model.pack0_dir, tmp_path / "out", llm_env(model, tmp_path / "cache", key=wrong))
    assert result.returncode == 1
    assert "the Anthropic API refused the key (401): check ANTHROPIC_API_KEY" in result.stderr
    everything = (
        result.stdout
        + result.stderr
        + "".join(p.read_text(errors="ignore") for p in (tmp_path / "out").rglob("*") if p.is_file())
    )
    assert wrong not in everything
    assert len(model.calls()) == 1, "a 401 is not retried"


def test_a_server_error_after_retries_is_one_line(healed, tmp_path: Path, monkeypatch):
    server = healed["server"]
    server.reset()
    server.script_object.before = [Scripted(status=500, error_type="api_error", headers={"retry-after-ms": "5"})] * 3
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    provider = AnthropicProvider("claude-sonnet-4-6", max_retries=2)
    pack0 = load_pack0(healed["pack0"])
    from factory.agents import call
    from factory.llm.anthropic_provider import ModelError

    with pytest.raises(ModelError) as caught:
        call.codegen(provider, pack0, "deal", None)
    assert str(caught.value).startswith("the Anthropic API answered 500 after retries")
    assert "\n" not in str(caught.value) and KEY not in str(caught.value) and len(server.requests) == 3


def test_deployer_output_passes_the_postgres_round_trip(model, tmp_path: Path, database: str):
    from pg import AUTH_SHIM, psql
    from test_deploy import assert_round_trip

    env, out = llm_env(model, tmp_path / "cache"), tmp_path / "out"
    result = build(model.pack0_dir, out, env, "--auto-deploy", "--deploy-target", "supabase")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("deployer", "") in model.calls()
    psql(database, AUTH_SHIM)
    assert_round_trip(out / "build", load_pack0(model.pack0_dir), database, rls=True)


def test_the_architect_designs_the_pack0_once_and_a_new_brief_never_overwrites_edits(tmp_path: Path):
    out = tmp_path / "out"
    pack0_dir = out / "pack0/pack0-fleet-maintenance-0.0.1"
    server = serve(pack0_dir)
    try:
        env = llm_env(server, tmp_path / "cache")
        args = ("auto-full", "--module", "fleet-maintenance", "--out", out, "--waive", "docker-build")
        result = run_cli(*args, "--brief", "Vehicles and their maintenance work orders.", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.calls()[0] == ("architect", "")
        assert sorted(p.name for p in (pack0_dir / "contracts").glob("*.schema.json")) == [
            "vehicle.schema.json",
            "work_order.schema.json",
        ]
        assert "Track vehicles and the work orders" in (pack0_dir / "docs/SRS.md").read_text()
        stages = read_json(out / "build/pipeline_result.json")["stages"]
        pack0_summary = next(stage["summary"] for stage in stages if stage["name"] == "pack0")
        assert "designed by the model" in pack0_summary
        assert ("codegen", "work_order") in server.calls()

        server.reset()
        srs = pack0_dir / "docs/SRS.md"
        srs.write_text(srs.read_text() + "\n- Hand-written: tyres are checked monthly.\n")
        refused = run_cli(*args, "--brief", "Something else entirely.", env=env)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1
        assert "--brief differs from the Pack0's brief, and docs/SRS.md was not written by lai-pack" in refused.stderr
        assert "Hand-written" in srs.read_text() and server.calls() == []
    finally:
        server.stop()


def test_a_new_brief_rewrites_a_pack0_nobody_edited(tmp_path: Path):
    config = BuildConfig(module="tasks", out=tmp_path, brief="To-do lists for a small team.")
    said: list[str] = []
    pack0_stage.generate(config, said.append)
    srs = config.layout.pack0_dir / "docs/SRS.md"
    assert "To-do lists for a small team." in srs.read_text()
    changed = BuildConfig(module="tasks", out=tmp_path, brief="Chores for a family.")
    assert "from the catalog" in pack0_stage.generate(changed, said.append)
    assert "Chores for a family." in srs.read_text()
    assert load_pack0(config.layout.pack0_dir).meta.brief == "Chores for a family."
    (config.layout.pack0_dir / "contracts/task.schema.json").write_text(
        (config.layout.pack0_dir / "contracts/task.schema.json").read_text() + "\n"
    )
    with pytest.raises(InputError, match=r"contracts/task\.schema\.json was not written by lai-pack"):
        pack0_stage.check_brief(BuildConfig(module="tasks", out=tmp_path, brief="A third brief."))
    # No --brief on a re-run keeps the Pack0 as it is.
    assert "files" in pack0_stage.generate(BuildConfig(module="tasks", out=tmp_path), said.append)
    assert "Chores for a family." in srs.read_text()

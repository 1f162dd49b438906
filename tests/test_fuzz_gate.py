"""The contracts gate fuzzes the running service with schemathesis: a planted defect fails it with the operation,
the check and a curl that reproduces it; the Healer gets such a finding like a failing test; hand-written
Pack0s with every kind of field, and with several entities, pass it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import read_json, run_cli

from factory.errors import InputError
from factory.gates.contracts import contracts_gate
from factory.gates.contracts_fuzz import FuzzSettings, fuzz_settings
from factory.pack0.load import load_pack0

# Defects the generated tests do not catch but a fuzzer must: a 500 at the largest declared offset, and a
# contact email that is not an email accepted (no database constraint catches that one either).
SERVER_ERROR = (
    '    offset = _page_param(query, "offset", 0, 0, limits.MAX_PAGE_OFFSET)\n',
    '    offset = _page_param(query, "offset", 0, 0, limits.MAX_PAGE_OFFSET)\n'
    "    if offset == limits.MAX_PAGE_OFFSET:\n"
    '        raise RuntimeError("planted defect")\n',
)
ACCEPTS_FORBIDDEN = (
    "    problems = validate_body(resource.SCHEMA, body, partial=partial)\n",
    "    problems = validate_body(resource.SCHEMA, body, partial=partial)\n"
    '    problems = [problem for problem in problems if problem["message"] != "must be a valid email"]\n',
)
HANDLERS = "src/crm_contacts/handlers.py"  # where both defects are planted: the list and body handlers


def plant(build: Path, *defects: tuple[str, str]) -> None:
    handlers = build / HANDLERS
    text = handlers.read_text()
    for old, new in defects:
        assert old in text
        text = text.replace(old, new)
    handlers.write_text(text)


def copy_build(crm_output: Path, tmp_path: Path) -> Path:
    shutil.copytree(crm_output / "build", tmp_path / "out/build")
    shutil.copytree(crm_output / "pack0", tmp_path / "out/pack0")
    return tmp_path / "out/build"


def test_planted_defects_fail_the_gate_with_operation_check_and_curl(
    crm_output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LAI_FUZZ_EXAMPLES", "2")  # the coverage phase's boundary cases find both: keep it cheap
    build = copy_build(crm_output, tmp_path)
    plant(build, SERVER_ERROR, ACCEPTS_FORBIDDEN)
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    result = contracts_gate(build, pack0_dir, load_pack0(pack0_dir), build / ".factory_logs/junit.xml")
    assert result.status == "failed"
    assert result.tool.startswith("schemathesis")
    server_error = [line for line in result.details if "not_a_server_error" in line]
    assert any(
        line.startswith("GET /api/v1/") and "reproduce: curl -X GET" in line and "offset=1000000000" in line
        for line in server_error
    ), result.details
    accepted = [line for line in result.details if "negative_data_rejection" in line]
    assert any(
        re.match(r"(POST|PATCH) /api/v1/contacts", line) and "reproduce: curl" in line and "email" in line
        for line in accepted
    ), result.details


def test_the_healer_gets_a_fuzz_finding_and_heals_it_before_approval(tmp_path: Path):
    build_command = ("auto-full", "--module", "crm-contacts", "--out", tmp_path / "out", "--waive", "docker-build")
    assert run_cli(*build_command).returncode == 0
    build = tmp_path / "out/build"
    plant(build, SERVER_ERROR)
    result = run_cli(*build_command)
    assert result.returncode == 0, result.stdout + result.stderr
    heal_log = read_json(build / ".factory_logs/heal_log.json")
    assert [(entry["problem"], entry["outcome"]) for entry in heal_log] == [("fuzz", "fixed")]
    assert heal_log[0]["files_changed"] == [HANDLERS]
    assert "not_a_server_error" in heal_log[0]["error_summary"]
    assert "planted defect" not in (build / HANDLERS).read_text()
    assert "planted defect" in (build / ".factory_logs/fuzz_output.0.txt").read_text()
    gate = read_json(build / ".factory_logs/gates/contracts.json")
    assert gate["status"] == "passed" and "schemathesis" in gate["reason"]


def write_pack0(root: Path, module: str, entities: dict[str, dict]) -> Path:
    folder = root / f"pack0-{module}-0.0.1"
    (folder / "contracts").mkdir(parents=True)
    meta = {"brief": f"{module} for the fuzz tests", "module": module, "schema_version": 1, "title": module.title()}
    (folder / "pack0.json").write_text(json.dumps({**meta, "version": "0.0.1"}))
    budgets = {"cost_budget_usd": 1.0, "latency_target_ms": 200, "max_heal_tries": 1, "token_budget": 100000}
    (folder / "budgets.json").write_text(json.dumps(budgets))
    for name, (plural, required, properties) in entities.items():
        contract = {
            "$id": f"urn:lai-factory:{module}:{name}",
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "".join(part.capitalize() for part in name.split("_")),
            "description": f"A {name}.",
            "type": "object",
            "additionalProperties": False,
            "required": required,
            "properties": properties,
            "x-plural": plural,
        }
        (folder / "contracts" / f"{name}.schema.json").write_text(json.dumps(contract, indent=2))
    return folder


EVERY_KIND = {
    "gadget": (
        "gadgets",
        ["name", "kind", "serial"],
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 60},
            "kind": {"type": "string", "enum": ["widget", "sprocket", "gear"]},
            "serial": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{4}$"},
            "released_on": {"type": "string", "format": "date"},
            "seen_at": {"type": "string", "format": "date-time"},
            "owner_id": {"type": "string", "format": "uuid"},
            "contact": {"type": "string", "format": "email", "maxLength": 120},
            "manual": {"type": "string", "format": "uri", "maxLength": 200},
            "weight_kg": {"type": "number", "minimum": 0, "maximum": 1000},
            "stock": {"type": "integer", "minimum": -10, "maximum": 100000, "multipleOf": 5},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 5, "uniqueItems": True},
            "ratings": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 5}, "maxItems": 10},
            "note": {"type": ["string", "null"], "maxLength": 100},
            "active": {"type": "boolean", "default": True},
        },
    )
}
SEVERAL_ENTITIES = {
    name: (f"{name}s", ["label"], {"label": {"type": "string", "minLength": 1, "maxLength": 40}, "rank": rank})
    for name, rank in (
        ("shelf", {"type": "integer", "minimum": 0}),
        ("bin", {"type": "integer", "maximum": 9}),
        ("crate", {"type": "number"}),
        ("pallet", {"type": "string", "enum": ["a", "b"]}),
    )
}


def test_a_hand_written_pack0_with_every_kind_of_field_and_several_entities_passes_the_fuzzing_gate(tmp_path: Path):
    pack0 = write_pack0(tmp_path / "in", "gizmo", {**EVERY_KIND, **SEVERAL_ENTITIES})
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "gizmo", "--pack0", pack0, "--out", out, "--waive", "docker-build")
    gate = read_json(out / "build/.factory_logs/gates/contracts.json")
    assert (gate["status"], gate["details"]) == ("passed", []), gate["reason"]
    assert "schemathesis" in gate["reason"] and "found no failure on 26 operations" in gate["reason"]
    assert result.returncode == 0, result.stdout + result.stderr


def test_fuzz_settings_come_from_the_environment_and_bad_values_are_refused():
    assert fuzz_settings({}) == FuzzSettings()
    assert fuzz_settings({"LAI_FUZZ_EXAMPLES": "50", "LAI_FUZZ_SEED": "7"}).max_examples == 50
    assert FuzzSettings(seconds_per_operation=2).max_seconds(11) > FuzzSettings(seconds_per_operation=2).max_seconds(1)
    with pytest.raises(InputError, match="LAI_FUZZ_EXAMPLES"):
        fuzz_settings({"LAI_FUZZ_EXAMPLES": "0"})
    with pytest.raises(InputError, match="LAI_FUZZ_WORKERS"):
        fuzz_settings({"LAI_FUZZ_WORKERS": "²"})


def test_in_llm_mode_the_healer_model_gets_the_fuzz_finding(tmp_path: Path):
    from test_llm_mode import build, llm_env, make_pack0, serve

    pack0_dir = make_pack0(tmp_path)
    server = serve(pack0_dir)
    try:
        out, env = tmp_path / "out", llm_env(server, tmp_path / "cache")
        assert build(pack0_dir, out, env).returncode == 0
        storage = out / "build/src/crm_contacts/storage.py"
        text = storage.read_text()
        old = "        with self._lock:\n            total = self._db.execute("
        assert old in text
        storage.write_text(text.replace(old, "        assert offset < 10**9, 'planted defect'\n" + old, 1))
        server.reset()
        result = build(pack0_dir, out, env)
        assert result.returncode == 0, result.stdout + result.stderr
        heal_log = read_json(out / "build/.factory_logs/heal_log.json")
        assert [(entry["problem"], entry["outcome"]) for entry in heal_log] == [("fuzz", "fixed")]
        assert [agent for agent, _slice in server.calls()] == ["healer"]
        prompt = server.requests[-1]["body"]["messages"][0]["content"]
        assert "FUZZ FAILURE" in prompt and "planted defect" in prompt and "reproduce" in prompt.lower()
    finally:
        server.stop()


def test_the_fuzzers_known_utf8_alphabet_is_the_one_hypothesis_computes(tmp_path: Path, monkeypatch):
    # The driver skips hypothesis' scan of every code point for UTF-8 (1.4 s a run); the answer must be the same.
    import importlib.util

    from hypothesis.internal import charmap

    from factory.gates.contracts_fuzz import DRIVER

    spec = importlib.util.spec_from_file_location("lai_fuzz_driver", DRIVER)
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path))  # no cached answer: computed here
    monkeypatch.setattr(charmap, "intervals_from_codec", charmap.intervals_from_codec)  # put back afterwards
    computed = charmap.intervals_from_codec.__wrapped__("utf-8")
    driver.known_codec_intervals()
    known = charmap.intervals_from_codec("utf-8")
    assert [each.intervals for each in known] == [each.intervals for each in computed]
    assert charmap.intervals_from_codec("ascii")[0].intervals == ((0, 127),)  # other codecs: computed

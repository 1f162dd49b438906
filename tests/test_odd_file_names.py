"""A file whose name is not UTF-8 (generated code, a hostile reply or a healer can make one under build/: its tests
run with build/ writable). JSON evidence cannot spell such a name, so the factory never lists it: the run ends NOT
APPROVED naming it (escaped), every command reports it in one printable line, nothing crashes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli

from factory.agents.replies import FileSetReply, HealReply, parse_reply
from factory.errors import AgentReplyError, one_line
from factory.fsutil import not_utf8
from factory.pec.coverage import walk
from factory.pec.verify import verify_output
from factory.runner.junit import junit_cases

PLANTED = b"src/crm_contacts/x\xff.py"
SHOWN = "build/src/crm_contacts/x\\xff.py"  # as every message spells it: the byte that is not UTF-8, escaped
# A UTF-8 locale's stdout refuses what is not UTF-8 (C.UTF-8 lets it through as raw bytes): a crash there.
STRICT = factory_env(PYTHONIOENCODING="utf-8:strict")


def _plant(build: Path, relative: bytes = PLANTED, data: bytes = b"x = 1\n") -> None:
    path = os.path.join(os.fsencode(build), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)


def _clean(result) -> str:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "\udcff" not in text, text
    return text


@pytest.fixture
def output(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy, ignore=shutil.ignore_patterns(".lai-pack.doit.db*"))
    return copy


def test_not_utf8_is_true_only_for_a_name_with_bytes_that_are_not_utf8():
    assert not_utf8(os.fsdecode(b"x\xff.py"))
    assert not not_utf8("x.py") and not not_utf8("café ✓.py") and not not_utf8("")


def test_one_line_shows_a_byte_that_is_not_utf8_as_it_is_on_disk():
    assert one_line(os.fsdecode(b"a/x\xff.py")) == "a/x\\xff.py"
    assert one_line("café\n") == "café\\n"


def test_walk_reports_a_name_that_is_not_utf8_and_never_lists_it(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/ok.py").write_text("x = 1\n")
    _plant(tmp_path, b"src/x\xff.py")
    _plant(tmp_path, b"src/d\xfe/inside.py")  # a folder so named: reported once, not entered
    tree = walk(tmp_path, "build/")
    assert tree.files == ["src/ok.py"]
    assert tree.not_utf8 == ["build/src/d\\xfe", "build/src/x\\xff.py"]
    assert len(tree.problems) == 2 and all("not UTF-8" in problem for problem in tree.problems)
    assert all(not not_utf8(problem) for problem in tree.problems)


def test_verify_reports_a_not_utf8_name_planted_after_an_approved_run(output: Path, tmp_path: Path):
    _plant(output / "build", data=b'aws_key = "AKIAIOSFODNN7EXAMPLE"\n')
    problems = verify_output(output)
    assert len(problems) == 1 and SHOWN in problems[0] and not not_utf8(problems[0])
    result = run_cli("verify", output, env=STRICT)
    assert result.returncode == 1 and SHOWN in _clean(result)
    assert result.stdout.strip() == problems[0]

    status = run_cli("status", output, env=STRICT)
    assert status.returncode == 0 and "evidence: 1 problem(s)" in _clean(status)

    leaks = run_cli("leak-check", output / "build", env=STRICT)
    assert leaks.returncode == 1 and "src/crm_contacts/x\\xff.py:1: AWS Access Key" in _clean(leaks)

    archive = tmp_path / "pack.tar.gz"
    export = run_cli("export-team-pack", output, "--to", archive, env=STRICT)
    assert export.returncode == 1 and SHOWN in _clean(export) and "nothing exported" in export.stderr
    assert len(export.stderr.strip().splitlines()) == 1 and not archive.exists()


def test_a_run_that_leaves_a_not_utf8_name_ends_not_approved_with_evidence_naming_it(output: Path):
    _plant(output / "build", data=b'aws_key = "AKIAIOSFODNN7EXAMPLE"\n')
    command = ("auto-full", "--module", "crm-contacts", "--out", output, "--waive", "docker-build", "--auto-deploy")
    result = run_cli(*command, env=STRICT)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NOT APPROVED" in _clean(result) and SHOWN in result.stdout
    assert "executable:" not in result.stdout  # the deploy scripts' run bits are the factory's own
    approval = read_json(output / "build/approval.json")
    assert not approval["approved"] and any(SHOWN in reason for reason in approval["reasons"])
    assert read_json(output / "build/pipeline_result.json")["exit_code"] == 1
    # The secret scan reads the file all the same, and names it escaped; ruff fails on it, and the gate says why.
    gates = {gate["name"]: gate for gate in read_json(output / "build/run_report.json")["gates"]}
    assert "src/crm_contacts/x\\xff.py:1: AWS Access Key" in "\n".join(gates["secret-scan"]["details"])
    assert gates["lint"]["status"] == "failed" and "not UTF-8" in gates["lint"]["reason"]
    assert "src/crm_contacts/x\\xff.py" in gates["lint"]["reason"]
    listed = [item["path"] for item in read_json(output / "build/manifest.json")["artifacts"]]
    assert listed and not any(not_utf8(path) for path in listed)
    # The evidence is whole; the one thing verify reports is the file it cannot list.
    verify = run_cli("verify", output, env=STRICT)
    lines = _clean(verify).strip().splitlines()
    assert verify.returncode == 1 and len(verify.stdout.strip().splitlines()) == 1 and SHOWN in lines[0]
    status = run_cli("status", output, env=STRICT)
    assert status.returncode == 0 and "NOT APPROVED" in status.stdout and SHOWN in _clean(status)

    # Gone again: the next run approves (the evidence is re-derived, not kept from the run that saw it).
    os.unlink(os.path.join(os.fsencode(output / "build"), PLANTED))
    again = run_cli(*command, env=STRICT)
    assert again.returncode == 0, again.stdout + again.stderr
    assert read_json(output / "build/approval.json")["approved"]
    assert run_cli("verify", output).returncode == 0


def test_a_junit_report_pytest_died_writing_is_a_value_error_not_a_crash():
    with pytest.raises(ValueError, match="not readable XML"):
        junit_cases('<?xml version="1.0" encoding="utf-8"?>', {})  # what pytest leaves when it dies at the end


def test_a_test_file_named_in_bytes_that_are_not_utf8_fails_the_tests_not_the_run(output: Path):
    # pytest dies writing its JUnit report for it (the name goes into the XML): the tests fail, nothing crashes.
    _plant(output / "build", b"tests/test_x\xff.py", b"def test_one():\n    pass\n")
    result = run_cli("auto-full", "--module", "crm-contacts", "--out", output, "--waive", "docker-build", env=STRICT)
    assert result.returncode == 1 and "NOT APPROVED" in _clean(result)
    approval = read_json(output / "build/approval.json")
    assert not approval["tests_passed"] and "tests did not pass" in approval["reasons"]
    assert any("build/tests/test_x\\xff.py" in reason for reason in approval["reasons"])
    failures = read_json(output / "build/run_report.json")["tests"]["failures"]
    assert any("not readable XML" in failure["message"] for failure in failures)


def test_a_pack0_with_a_not_utf8_file_name_is_refused_in_one_line(crm_output: Path, tmp_path: Path):
    pack0 = tmp_path / "pack0-crm-contacts-0.0.1"
    shutil.copytree(crm_output / "pack0/pack0-crm-contacts-0.0.1", pack0)
    _plant(pack0, b"docs/notes\xff.md", b"# notes\n")
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "crm-contacts", "--pack0", pack0, "--out", out, env=STRICT)
    assert result.returncode == 2, result.stdout + result.stderr
    line = _clean(result).strip()
    assert len(line.splitlines()) == 1 and f"{pack0}/docs/notes\\xff.md" in line and "not UTF-8" in line
    assert not out.exists()


def test_a_model_reply_spelling_a_name_or_text_that_is_not_utf8_is_refused():
    # A model need not send such a character: a JSON escape in its text is enough. Refused at parsing, before
    # the reply is kept or any file written (the content one crashed the path check: UnicodeEncodeError).
    for raw in (
        '{"files": [{"path": "src/x\\udcff.py", "content": "x = 1"}]}',
        '{"files": [{"path": "src/y.py", "content": "x = \\"\\ud800\\""}]}',
        '{"diagnosis": "\\udcff", "files": []}',
    ):
        model = HealReply if "diagnosis" in raw else FileSetReply
        with pytest.raises(AgentReplyError, match="lone surrogate"):
            parse_reply("healer", raw, model)


@pytest.mark.parametrize(
    ("plant", "problem"),
    [
        (lambda build: (build / "stray.pyc").write_bytes(b"\0"), "bytecode: build/stray.pyc"),
        (lambda build: (build / "link.txt").symlink_to("Dockerfile"), "not a regular file: build/link.txt"),
    ],
    ids=["bytecode", "symlink"],
)
def test_what_cannot_be_evidence_blocks_approval_until_it_goes(output: Path, plant, problem: str):
    # Left in build/ during a run (generated tests run with it writable): before, the run approved an output
    # that verify then rejected for it.
    plant(output / "build")
    command = ("auto-full", "--module", "crm-contacts", "--out", output, "--waive", "docker-build")
    stopped = run_cli(*command)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    reasons = read_json(output / "build/approval.json")["reasons"]
    assert any(reason.startswith(f"not evidence: {problem}") for reason in reasons), reasons
    checked = run_cli("verify", output)
    assert checked.returncode == 1 and problem in checked.stdout
    for leftover in ("stray.pyc", "link.txt"):
        (output / "build" / leftover).unlink(missing_ok=True)
    again = run_cli(*command)  # gone: the evidence is derived again, and approves
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_cli("verify", output).returncode == 0

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


PACK0 = "pack0/pack0-crm-contacts-0.0.1"


def _plant_in(pack0: Path, kind: str, elsewhere: Path) -> None:
    """One thing that cannot be evidence, in a Pack0 folder (elsewhere: a folder outside it, for a second name)."""
    if kind == "bytecode":
        (pack0 / "docs/x.pyc").write_bytes(b"\0")
    elif kind == "symlink":
        (pack0 / "docs/link.md").symlink_to("SRS.md")
    elif kind == "fifo":
        os.mkfifo(pack0 / "docs/fifo.md")
    elif kind == "hard link":
        os.link(pack0 / "docs/PLAN.md", elsewhere / "PLAN.md")
    elif kind == "run bit":
        (pack0 / "docs/SRS.md").chmod(0o755)
    elif kind == "empty folder":
        (pack0 / "empty").mkdir()


def _remove_from(pack0: Path, kind: str, elsewhere: Path) -> None:
    if kind == "hard link":
        (elsewhere / "PLAN.md").unlink()
    elif kind == "run bit":
        (pack0 / "docs/SRS.md").chmod(0o644)
    elif kind == "empty folder":
        (pack0 / "empty").rmdir()
    elif kind == "another pack0":
        shutil.rmtree(pack0.parent / "pack0-crm-contacts-0.0.2")
    else:
        next(path for path in (pack0 / "docs").iterdir() if path.name in ("x.pyc", "link.md", "fifo.md")).unlink()


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("bytecode", f"bytecode: {PACK0}/docs/x.pyc"),
        ("symlink", f"not a regular file: {PACK0}/docs/link.md (a symbolic link)"),
        ("fifo", f"not a regular file: {PACK0}/docs/fifo.md (a FIFO)"),
        ("hard link", f"not a regular file: {PACK0}/docs/PLAN.md (a hard link with 2 names"),
        ("run bit", f"executable: {PACK0}/docs/SRS.md (mode 755"),
        ("empty folder", f"extra: {PACK0}/empty/ (a folder with no file in it"),
        ("another pack0", "extra: pack0/pack0-crm-contacts-0.0.2 (not the Pack0 build/run_report.json names)"),
    ],
)
def test_what_cannot_be_evidence_in_the_pack0_folder_blocks_approval_until_it_goes(
    output: Path, tmp_path: Path, kind: str, problem: str
):
    # Planted before or during a run: before, the run approved and only logged it, and verify then rejected it.
    pack0 = output / PACK0
    if kind == "another pack0":
        shutil.copytree(pack0, pack0.parent / "pack0-crm-contacts-0.0.2")
    _plant_in(pack0, kind, tmp_path)
    command = ("auto-full", "--module", "crm-contacts", "--out", output, "--waive", "docker-build")
    stopped = run_cli(*command)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "Traceback" not in stopped.stdout + stopped.stderr
    reasons = read_json(output / "build/approval.json")["reasons"]
    blocking = [reason.removeprefix("not evidence: ") for reason in reasons if reason.startswith("not evidence: ")]
    assert len(blocking) == 1 and blocking[0].startswith(problem), reasons
    checked = run_cli("verify", output)  # and verify says the same, no more
    assert checked.returncode == 1 and checked.stdout.strip().splitlines() == blocking
    _remove_from(pack0, kind, tmp_path)
    again = run_cli(*command)  # gone: the evidence is derived again, and approves
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_cli("verify", output).returncode == 0


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("symlink", "docs/link.md (a symbolic link)"),
        ("fifo", "docs/fifo.md (a FIFO)"),
        ("bytecode", "docs/x.pyc (Python may run it instead of its source)"),
    ],
)
def test_a_users_pack0_holding_a_link_a_fifo_or_bytecode_is_refused_in_one_line(
    crm_output: Path, tmp_path: Path, kind: str, problem: str
):
    # auto-build copies the user's Pack0 into the output: before, a link was read through (its target copied, from
    # wherever it pointed), a FIFO left out, and bytecode copied, then approved with it.
    source = tmp_path / "mine/pack0-crm-contacts-0.0.1"
    shutil.copytree(crm_output / PACK0, source)
    _plant_in(source, kind, tmp_path)
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "crm-contacts", "--pack0", source, "--out", out, env=STRICT)
    assert result.returncode == 2, result.stdout + result.stderr
    line = _clean(result).strip()
    assert len(line.splitlines()) == 1 and f"{source}/{problem}" in line, line
    assert "a Pack0 is copied as plain files only" in line
    assert not out.exists()


def test_a_users_pack0_with_a_run_bit_a_second_name_and_an_empty_folder_is_copied_plain_and_approved(
    output: Path, tmp_path: Path
):
    source = tmp_path / "mine/pack0-crm-contacts-0.0.1"
    shutil.copytree(output / PACK0, source)
    for kind in ("run bit", "hard link", "empty folder"):
        _plant_in(source, kind, tmp_path)
    command = ("auto-build", "--module", "crm-contacts", "--pack0", source, "--out", output, "--waive", "docker-build")
    result = run_cli(*command)
    assert result.returncode == 0, result.stdout + result.stderr
    # The user is told what the copy left behind, their folder named from its name down (a log names no machine).
    log = (output / "build/.factory_logs/pipeline.log").read_text(encoding="utf-8")
    told = next(line for line in log.splitlines() if "copied as plain files" in line)
    for part in ("executable: pack0-crm-contacts-0.0.1/docs/SRS.md", "docs/PLAN.md (a hard link", "empty/ (a folder"):
        assert part in told, told
    assert str(tmp_path) not in log
    copy = output / PACK0
    assert (copy / "docs/SRS.md").stat().st_mode & 0o777 == 0o644 and (copy / "docs/PLAN.md").stat().st_nlink == 1
    assert not (copy / "empty").exists()
    assert run_cli("verify", output).returncode == 0

"""Reading pytest's JUnit XML: each test case with its outcome, kind and failure; merging cases from several
runs into one document. Pure (text in, data out)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter

OUTCOMES = ("passed", "failed", "error", "skipped")


def _test_path(classname: str) -> str:
    """'tests.integration.test_contacts_api' -> 'tests/integration/test_contacts_api.py'."""
    return classname.replace(".", "/") + ".py"


def _kind(path: str, kinds: dict[str, str]) -> str:
    return next((kind for kind, prefix in kinds.items() if path.startswith(prefix)), "other")


def _case_path(case: ElementTree.Element) -> str:
    # A module that fails to import is reported as a case named after the module, with no classname.
    classname = case.get("classname", "")
    return _test_path(classname) if classname else _test_path(case.get("name", ""))


def junit_cases(xml_text: str, kinds: dict[str, str]) -> list[tuple[str, str, dict]]:
    """Each test case as (test file, its XML, {outcome, kind, failure}), to be kept and counted per slice.
    Raises ValueError for a report that is not XML (pytest died writing it, or a test wrote over it)."""
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as error:
        raise ValueError(f"its JUnit report is not readable XML ({error})") from None
    cases = []
    for case in root.iter("testcase"):
        path = _case_path(case)
        detail = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        outcome = (
            "passed" if detail is None else {"failure": "failed", "error": "error", "skipped": "skipped"}[detail.tag]
        )
        parsed = {"outcome": outcome, "kind": _kind(path, kinds), "failure": None}
        if outcome in ("failed", "error"):
            message = (detail.get("message") or detail.text or "").strip().splitlines()
            test = f"{path}::{case.get('name')}"
            parsed["failure"] = {
                "test": test,
                "file": path,
                "outcome": outcome,
                "message": message[0][:300] if message else "",
            }
        cases.append((path, ElementTree.tostring(case, encoding="unicode"), parsed))
    return cases


def merged_junit(case_xml: list[str]) -> str:
    """One JUnit document of test cases from several runs (a reused result keeps its case as it was)."""
    counts = Counter()
    for text in case_xml:
        case = ElementTree.fromstring(text)
        tags = {child.tag for child in case}
        counts["failures"] += "failure" in tags
        counts["errors"] += "error" in tags
        counts["skipped"] += "skipped" in tags
    attributes = " ".join(f'{name}="{counts[name]}"' for name in ("errors", "failures", "skipped"))
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        f'<testsuite name="pytest" {attributes} tests="{len(case_xml)}">'
        + "".join(case_xml)
        + "</testsuite></testsuites>\n"
    )

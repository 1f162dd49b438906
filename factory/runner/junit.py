"""Reading pytest's JUnit XML: counts per test kind and the failing tests. Pure (text in, data out)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter

OUTCOMES = ("passed", "failed", "error", "skipped")


def _test_path(classname: str) -> str:
    """'tests.integration.test_contacts_api' -> 'tests/integration/test_contacts_api.py'."""
    return classname.replace(".", "/") + ".py"


def _kind(path: str, kinds: dict[str, str]) -> str:
    return next((kind for kind, prefix in kinds.items() if path.startswith(prefix)), "other")


def parse_junit(xml_text: str, kinds: dict[str, str]) -> tuple[dict, dict[str, dict], list[dict]]:
    """(totals, totals per kind, failures). kinds maps a kind to its folder prefix, e.g. unit -> tests/unit/."""
    root = ElementTree.fromstring(xml_text)
    totals: Counter = Counter()
    per_kind: dict[str, Counter] = {kind: Counter() for kind in kinds}
    failures = []
    for case in root.iter("testcase"):
        path = _test_path(case.get("classname", ""))
        outcome = "passed"
        detail = None
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                detail = child
                break
        totals[outcome] += 1
        per_kind.setdefault(_kind(path, kinds), Counter())[outcome] += 1
        if outcome in ("failed", "error"):
            message = (detail.get("message") or detail.text or "").strip().splitlines()
            failures.append(
                {
                    "test": f"{path}::{case.get('name')}",
                    "file": path,
                    "outcome": outcome,
                    "message": message[0][:300] if message else "",
                }
            )

    def counts(counter: Counter) -> dict:
        return {"total": sum(counter.values()), **{name: counter[name] for name in OUTCOMES}}

    return counts(totals), {kind: counts(counter) for kind, counter in per_kind.items()}, failures

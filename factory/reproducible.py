"""Reproducible output: with SOURCE_DATE_EPOCH set, what varies from run to run (durations, the time of day,
the host) is written as fixed values, so two builds of the same Pack0 give byte-identical evidence."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

_PYTEST_DURATION = re.compile(r"\bin \d+(\.\d+)?s\b( \(\d+:\d\d:\d\d\))?")
_JUNIT_TIME = re.compile(r' time="[0-9.]+"')
_JUNIT_TIMESTAMP = re.compile(r' timestamp="[^"]*"')
_JUNIT_HOSTNAME = re.compile(r' hostname="[^"]*"')


def enabled() -> bool:
    return bool(os.environ.get("SOURCE_DATE_EPOCH"))


def timestamp() -> str:
    """Now in UTC, or SOURCE_DATE_EPOCH when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> float:
    return 0.0 if enabled() else round(seconds, 3)


def test_output(text: str) -> str:
    return _PYTEST_DURATION.sub("in 0.00s", text) if enabled() else text


def junit(xml_text: str) -> str:
    # The host name is never kept: it names the build machine (or a container id, which looks like a secret).
    xml_text = _JUNIT_HOSTNAME.sub(' hostname=""', xml_text)
    if not enabled():
        return xml_text
    xml_text = _JUNIT_TIME.sub(' time="0"', xml_text)
    return _JUNIT_TIMESTAMP.sub(f' timestamp="{timestamp()}"', xml_text)

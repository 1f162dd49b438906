"""build/report.html rendered in headless Chromium: every key section is there, and it needs no network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# An attribute or CSS value that makes a browser fetch from the network.
FETCH = r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import"""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: apt-get install -y chromium")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_shows_every_key_section(crm_output: Path, tmp_path: Path):
    report = crm_output / "build/report.html"
    html = report.read_text()
    # Self-contained: nothing it would fetch (text may quote a URL, e.g. a docker gate's registry error).
    fetches = re.findall(FETCH, html, re.IGNORECASE)
    assert not fetches and "<script" not in html.lower() and "<link" not in html.lower(), fetches
    dom = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    for heading in ("Stage timeline", "Tests", "Self-heal", "Gates", "Evidence chain", "Deploy plan"):
        assert f"<h2>{heading}</h2>" in dom.stdout
    assert "APPROVED" in dom.stdout and 'aria-label="stage timeline"' in dom.stdout
    assert 'lai-pack verify: <span class="verdict ok">intact</span>' in dom.stdout
    for gate in ("lint", "secret-scan", "contracts", "docker-build"):
        assert f"<td>{gate}</td>" in dom.stdout
    screenshot = Path(os.environ.get("LAI_REPORT_SCREENSHOT", tmp_path / "report.png"))
    shot = chromium(tmp_path, "--window-size=1200,1900", f"--screenshot={screenshot}", report.as_uri())
    assert shot.returncode == 0 and screenshot.stat().st_size > 20_000

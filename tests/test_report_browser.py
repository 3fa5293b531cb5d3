"""The HTML report in a real browser (#15): Debian's headless Chromium, driven by Playwright.

The screenshot and the PDF each run keeps are under `test-artifacts/report/` at the top of the
repository (git ignores the folder): `report.png` and `report.pdf`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from lifecycle.cli import run
from report_workspace import make_workspace

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "report"


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, object]]:
    """The HTML report of a generated workspace, and its JSON form."""
    monkeypatch.setenv("LIFECYCLE_LOAD_PLUGINS", "")
    made = make_workspace(tmp_path / "ws")
    page, data = tmp_path / "report.html", tmp_path / "report.json"
    for path, fmt in ((page, "html"), (data, "json")):
        args = ["--workspace", str(tmp_path / "ws"), "report", "--format", fmt, "--out", str(path)]
        assert run(args, clock=made["clock"]) == 0
    return page, json.loads(data.read_text(encoding="utf-8"))


def test_the_report_reads_and_prints_in_chromium(reports: tuple[Path, dict[str, object]]):
    """Chromium, scripts off and no network, shows one timeline row per engagement and the
    JSON form's totals, logs no console error, and prints a PDF; a screenshot is kept."""
    assert CHROMIUM.is_file(), "make test installs Debian's chromium (Makefile)"
    page_file, data = reports
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(java_script_enabled=False, offline=True)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: r.url.startswith("file:") or problems.append(r.url))
            page.goto(page_file.as_uri())
            rows = page.locator("tr.timeline-row")
            engagements = [e["engagement"] for e in data["engagements"]]  # type: ignore[index]
            assert rows.count() == len(engagements) == 4
            assert [rows.nth(i).get_attribute("data-engagement") for i in range(4)] == engagements
            assert all(rows.nth(i).locator("svg.timeline").is_visible() for i in range(4))
            for key, value in data["totals"].items():  # type: ignore[attr-defined]
                shown = page.locator(f'[data-total="{key}"] dd').inner_text()
                assert int(shown) == value, key
            assert re.search(r"checkpoint amani \d+ [0-9a-f]{64}", page.inner_text("pre"))
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            pdf = page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4")
        finally:
            browser.close()
    assert problems == []
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000

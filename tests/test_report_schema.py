"""The `indicator` playbook key (#15), the report's SVG module, and its templates in a wheel."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine
from lifecycle._report import _svg
from lifecycle._report._contrib import service_kind

ROOT = Path(__file__).parent.parent
Cli = Callable[..., tuple[int, str, str]]

ORG = """\
schema = 1
id = "{id}"
version = "1.0.0"
title = "Indicators test"
extends = "core"

[[facts]]
id = "{id}.civil-society-at-table"
title = "Civil society has a seat at the table"
type = "{fact_type}"
indicator = "{indicator}"

[[checklist]]
stage = "conflict-analysis"
id = "{id}-women-consulted"
text = "Women's groups consulted on the analysis"
required = false
indicator = "women-consulted"
"""


def _playbook(
    folder: Path, *, id: str = "ind", fact_type: str = "bool", indicator: str = "cs-seat"
) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{id}.toml"
    path.write_text(ORG.format(id=id, fact_type=fact_type, indicator=indicator), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fact_type", "indicator", "fragment"),
    [
        (
            "bool",
            "Women Candidates",
            "$.facts[0].indicator: 'Women Candidates' is not an indicator name",
        ),
        ("bool", "-x", "$.facts[0].indicator: '-x' is not an indicator name"),
        ("bool", "a" * 65, f"$.facts[0].indicator: '{'a' * 65}' is not an indicator name"),
        ("text", "cs-seat", "$.facts[0].indicator: only a bool fact counts as an indicator"),
    ],
)
def test_a_bad_indicator_is_named_with_its_key_path(
    cli: Cli, tmp_path: Path, fact_type: str, indicator: str, fragment: str
):
    """`playbooks check` names the file and key path of a malformed indicator, exit 1."""
    path = _playbook(tmp_path / "pb", fact_type=fact_type, indicator=indicator)
    code, out, err = cli("playbooks", "check", str(path))
    out += err
    assert code == 1 and f"ERROR {path}: {fragment}" in out.replace("ERROR  ", "ERROR ")


def test_an_indicator_that_is_not_a_string_is_refused(cli: Cli, tmp_path: Path):
    """`indicator = 3` is a type error at its key path."""
    path = _playbook(tmp_path / "pb")
    path.write_text(path.read_text().replace('indicator = "cs-seat"', "indicator = 3"))
    code, out, err = cli("playbooks", "check", str(path))
    out += err
    assert code == 1 and "$.facts[0].indicator: expected a string" in out


def test_indicators_of_an_org_playbook_are_counted(workspace: Path, plugins, tmp_path: Path):
    """A bool fact set true and an added checklist item ticked count as their indicators."""
    from lifecycle._report import make_report

    folder = tmp_path / "pb"
    _playbook(folder)
    engine = Engine(workspace, plugins=plugins, playbook_dirs=[folder])
    engine.open("e1", "ind", actor="officer")
    engine.set_facts("e1", ["ind.civil-society-at-table=false"], actor="officer")
    engine.check("e1", "request-recorded", actor="officer")
    engine.check("e1", "entry-point-identified", actor="officer")
    engine.advance("e1", "accept-request", actor="officer")
    engine.check("e1", "ind-women-consulted", actor="officer")
    engine.set_facts("e1", ["ind.civil-society-at-table=true"], actor="officer")
    data = make_report(engine)
    found = {i["indicator"]: (i["occurrences"], i["recorded_as"]) for i in data["indicators"]}
    assert found["cs-seat"] == (1, ["fact ind.civil-society-at-table"])
    assert found["women-consulted"] == (1, ["item ind-women-consulted"])
    assert found["civil-society-consulted"] == (0, [])  # core's, declared but not recorded


def test_core_marks_the_three_indicators(cli: Cli):
    """core 1.3.0 names women candidates proposed, gender briefings and civil society consulted."""
    code, out, _ = cli("playbooks", "show", "core", "--json")
    playbook = json.loads(out)["playbook"]
    items = {
        i["id"]: i.get("indicator") for s in playbook["stages"] for i in s.get("checklist", [])
    }
    activities = {a["id"]: a.get("indicator") for a in playbook["activities"]}
    assert (code, playbook["version"]) == (0, "1.3.0")
    assert items["women-candidates"] == "women-candidates-proposed"
    assert activities["gender-inclusion-briefing"] == "gender-briefings-offered"
    assert activities["civil-society-consultation"] == "civil-society-consulted"


@pytest.mark.parametrize(
    ("activity", "kind"),
    [
        ("reflection-retreat", "retreat"),
        ("handover-retreat", "handover"),
        ("envoy-debriefing", "debriefing"),
        ("envoy-induction", "briefing"),
        ("oic-contact-group-briefing", "briefing"),
        ("technical-coaching", "coaching"),
        ("training-conflict-party", "training"),
        ("un-sbt-deployment", "deployment"),
        ("cw-envoys-exchange", "other"),
    ],
)
def test_service_kinds_come_from_the_words_of_an_activity_id(activity: str, kind: str):
    """The first matching word names the kind (debriefing before briefing, handover before retreat)."""
    assert service_kind(activity) == kind


def test_svg_escapes_text_and_places_marks_in_time():
    """Labels are escaped and control characters shown as escapes; a mark halfway through the
    row sits halfway across it."""
    start, end = dt.date(2026, 1, 1), dt.date(2026, 1, 11)
    chart = _svg.bar_chart([("<b>\u202eX", 3)], title="t & u")
    assert "&lt;b&gt;\\u202eX" in chart and "t &amp; u" in chart and "\u202e" not in chart
    row = _svg.timeline(
        [
            {
                "stage": "s",
                "title": "S",
                "phase": "support",
                "final": False,
                "from": "2026-01-01",
                "to": None,
            }
        ],
        [{"activity": "a", "service": "other", "on": "2026-01-06", "seq": 4}],
        start,
        end,
        title="row",
    )
    assert f'x="{_svg.WIDTH / 2 - 1.5}"' in row and f'width="{float(_svg.WIDTH)}"' in row
    assert 'class="phase-support"' in row


def test_timeline_rows_escape_every_text_of_a_row():
    """Each text of a timeline row (id, title, playbook, version, country, stage) is escaped,
    quotes too (the id is also an attribute), and control characters shown as escapes."""
    from lifecycle._report._render import timeline_rows

    hostile = '<b x="1">\u202e&'
    row = {
        "engagement": hostile,
        "title": hostile,
        "playbook": hostile,
        "version": hostile,
        "country": hostile,
        "stage": hostile,
        "services": 2,
        "timeline": {"spans": [], "marks": []},
    }
    day = dt.date(2026, 1, 1)
    html = str(timeline_rows([row, row], day, day + dt.timedelta(days=10)))
    assert "<b x" not in html and "\u202e" not in html
    # per row: 6 cells, the row's attribute, the timeline's label and title
    assert html.count("&lt;b x=&#34;1&#34;&gt;\\u202e&amp;") == 2 * 9
    assert html.count("<tr ") == 2 and html.endswith("</td></tr>\n")
    assert '<td class="num">2</td>' in html


def test_a_wheel_carries_the_report_templates(tmp_path: Path):
    """A built wheel (what a non-editable install gets) holds both templates."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("lifecycle-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lifecycle/_report/templates/report.html" in names
    assert "lifecycle/_report/templates/report.md" in names

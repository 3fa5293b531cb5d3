"""`lifecycle report` against a careless or hostile officer (#15): every bad option is one line
naming it, a non-zero exit and nothing written; `--out` replaces only a regular file; texts from
a history never become markup in the HTML nor break the Markdown."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lifecycle import Engine

Invoke = Callable[..., tuple[int, str, str]]
HOSTILE = "</script><svg onload=alert(1)> | `code` *x* [l](http://e.example) <!-- & -->"


@pytest.fixture
def ws(engine: Engine, cli: Invoke) -> Path:
    """A workspace with one engagement whose title, lesson and forced reason are hostile."""
    engine.open("e1", "core", actor="officer", title=HOSTILE)
    engine.force("e1", "active-support", actor="head", reason=f"Because {HOSTILE}\nsecond line")
    engine.lesson("e1", title=HOSTILE, text="t", themes=["gender"], actor="officer")
    return engine.workspace.path_of("e1").parent


def snapshot(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Each entry of *folder*: its kind and, for a file, its bytes."""
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_symlink():
            out[path.name] = ("link", os.readlink(path).encode())
        elif path.is_file():
            out[path.name] = ("file", path.read_bytes())
        else:
            out[path.name] = ("other", b"")
    return out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-30"], "'2026-02-30' is not a date"),
        (["--from", "1900-01-01"], "is before 1945-01-01"),
        (["--to", "tomorrow"], "'tomorrow' is not a date"),
        (["--from", "2026-01-02", "--to", "2026-01-01"], "--from 2026-01-02 is after --to"),
        (["--playbook", "no-such-playbook"], "--playbook 'no-such-playbook': no such playbook"),
        (["--format", "pdf"], "'pdf' is not one of"),
    ],
)
def test_bad_options_are_one_line(ws: Path, cli: Invoke, args: list[str], message: str) -> None:
    """A bad date, --from after --to, an unknown playbook, an unknown format: exit 2, one
    line naming it, nothing on stdout."""
    code, out, err = cli("report", *args)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.html")
    return tmp / "pipe.html"


def _link(tmp: Path) -> Path:
    (tmp / "target.html").write_text("kept", encoding="utf-8")
    (tmp / "link.html").symlink_to(tmp / "target.html")
    return tmp / "link.html"


def _dangling(tmp: Path) -> Path:
    (tmp / "dangling.html").symlink_to(tmp / "nowhere.html")
    return tmp / "dangling.html"


def _folder(tmp: Path) -> Path:
    (tmp / "sub").mkdir()
    return tmp / "sub"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "plain").write_text("x", encoding="utf-8")
    return tmp / "plain" / "r.html"


def _history_name(tmp: Path) -> Path:
    return tmp / "r.history.jsonl"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_fifo, "is a FIFO, not a regular file"),
        (_link, "is a symlink, not a regular file"),
        (_dangling, "is a symlink, not a regular file"),
        (_folder, "is a directory"),
        (_under_a_file, "is not a folder"),
        (_history_name, "a report is never written as a history"),
    ],
    ids=["fifo", "symlink", "dangling-symlink", "folder", "under-a-file", "history-name"],
)
def test_out_replaces_only_a_regular_file(
    ws: Path, cli: Invoke, tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    """--out onto a FIFO (never opened, so never blocking), a symlink, a folder, a path under
    a file or a history's name: exit 2, one line, and the folder exactly as it was."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = make(out_dir)
    before = snapshot(out_dir)
    code, out, err = cli("report", "--out", str(target))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1, err
    assert snapshot(out_dir) == before


def test_out_over_a_workspace_history_leaves_it_intact(ws: Path, cli: Invoke) -> None:
    """--out naming a history of the workspace is refused: the history keeps its bytes and
    still audits clean."""
    history = ws / "e1.history.jsonl"
    before = history.read_bytes()
    code, _, err = cli("report", "--out", str(history))
    assert code == 2 and "never written as a history" in err
    assert history.read_bytes() == before
    assert cli("audit", str(ws))[0] == 0


def test_out_where_no_file_can_be_made(ws: Path, cli: Invoke) -> None:
    """--out into a folder no file can be created in (/proc/self): exit 1, one line naming
    the folder, no traceback."""
    code, out, err = cli("report", "--out", "/proc/self/report.html")
    assert code == 1 and out == ""
    assert "cannot create a file in /proc/self" in err and err.count("\n") == 1


def test_out_replaces_an_existing_report(ws: Path, cli: Invoke, tmp_path: Path) -> None:
    """An existing regular file is replaced whole, and no temporary file is left beside it."""
    target = tmp_path / "r.html"
    target.write_text("old", encoding="utf-8")
    code, out, _ = cli("report", "--out", str(target))
    assert code == 0 and str(target) in out
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name != "ws"] == ["r.html"]


def test_html_carries_no_markup_from_a_history(ws: Path, cli: Invoke) -> None:
    """The hostile title, lesson title and reason appear escaped: no element, attribute or
    comment of theirs, no line break of theirs, and the page has no script at all."""
    code, page, _ = cli("report")
    assert code == 0
    assert "<script" not in page and "</script>" not in page.replace("&lt;/script&gt;", "")
    assert "<svg onload" not in page and "<!-- &" not in page
    assert "onload=alert(1)" in page  # shown, as text
    assert page.count("&lt;/script&gt;&lt;svg onload=alert(1)&gt;") == 3  # title, lesson, reason
    assert "\\u000a" in page and "second line" in page  # the reason's line break, made visible
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    expected = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3"}
    expected |= {"p", "strong", "code", "section", "dl", "div", "dt", "dd", "svg", "text"}
    expected |= {"rect", "table", "thead", "tbody", "tr", "th", "td", "br", "line", "ul"}
    expected |= {"li", "pre", "i", "span"}
    assert tags <= expected, tags - expected


def test_markdown_escapes_tables_and_markup(ws: Path, cli: Invoke) -> None:
    """In the Markdown form the hostile texts cannot end a table cell, open code, emphasis, a
    link, an HTML tag or a new line: each such character is escaped."""
    code, text, _ = cli("report", "--format", "md")
    assert code == 0
    escaped = r"\<\/script\>\<svg onload=alert(1)\> \| \`code\` \*x\* \[l\](http://e.example) \<!-- \& --\>"
    escaped = escaped.replace(r"\/", "/")
    assert text.count(escaped) == 3, text
    pipes = re.compile(r"(?<!\\)\|")
    lines = text.splitlines()
    columns = 0
    for index, line in enumerate(lines):
        if not line.startswith("|"):
            columns = 0
        elif index + 1 < len(lines) and lines[index + 1].startswith("|---"):
            columns = len(pipes.findall(line))  # a table's header
        elif not line.startswith("|---"):
            assert len(pipes.findall(line)) == columns, line  # every row has its header's cells
    assert "second line" in text and "\nsecond line" not in text

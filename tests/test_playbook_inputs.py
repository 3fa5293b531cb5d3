"""Playbook files as an adversary writes them (issue #10): opened only as regular files, with a
size and a nesting limit; `check` refuses what `new` could not store and reports id clashes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lifecycle._lines import MAX_LINE_BYTES

from conftest import ROOT, run_cli


def lifecycle(ws: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess on workspace *ws*, as 'officer'."""
    return run_cli(
        "--workspace", str(ws), *args, env={"LIFECYCLE_ACTOR": "officer"}, timeout=timeout
    )


def assert_check_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """`playbooks check` exited 1 with one ERROR line holding every needle, and nothing on stdout."""
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("ERROR  "), lines
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("kind", ["dev-zero", "link-to-dev-zero", "fifo"])
def test_check_refuses_a_file_that_is_not_regular(tmp_path: Path, kind: str) -> None:
    """`playbooks check` on /dev/zero (or a link to it) or a FIFO says so at once, instead of reading for ever."""
    if kind == "dev-zero":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "x.toml"
        path.symlink_to("/dev/zero") if kind == "link-to-dev-zero" else os.mkfifo(path)
    result = lifecycle(tmp_path / "ws", "playbooks", "check", str(path), timeout=60)
    assert_check_error(result, f"{path}: not a regular file")


def test_fifo_in_a_playbooks_folder_is_listed_invalid(tmp_path: Path) -> None:
    """A FIFO named *.toml in a --playbooks folder makes `playbooks list` show it INVALID, not hang."""
    folder = tmp_path / "pbs"
    folder.mkdir()
    os.mkfifo(folder / "fifo.toml")
    result = run_cli("--playbooks", str(folder), "playbooks", "list", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "INVALID  " in result.stdout and "fifo.toml: not a regular file" in result.stdout


def test_check_refuses_a_file_over_1_mib(tmp_path: Path) -> None:
    """A playbook file over 1 MiB is refused without being parsed."""
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    assert_check_error(lifecycle(tmp_path, "playbooks", "check", str(path)), "larger than 1 MiB")


NESTED = {
    "arrays": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "inline-tables": "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "dotted-keys": ".".join(["k"] * 3000) + " = 1\n",
    "table-header": "[" + ".".join(["k"] * 3000) + "]\n",
    "just-over-the-limit": "x = " + "[" * 32 + "]" * 32 + "\n",
}


@pytest.mark.parametrize("text", NESTED.values(), ids=NESTED.keys())
def test_check_refuses_deep_nesting(tmp_path: Path, text: str) -> None:
    """TOML nested over 32 levels (arrays, inline tables, dotted keys) is one ERROR line, not a RecursionError."""
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    assert_check_error(
        lifecycle(tmp_path, "playbooks", "check", str(path)), "nested more than 32 levels deep"
    )


def huge_playbook(path: Path, stages: int = 300, stars: int = 100, pad: str = "x" * 600) -> Path:
    """A valid playbook under 1 MiB whose `from = ["*"]` triggers resolve to more than 16 MiB."""
    lines = ["schema = 1", 'id = "huge"', 'version = "1.0.0"', 'organization = "X"', 'title = "H"']
    for i in range(stages):
        lines += ["[[stages]]", f'id = "s{i}-{pad}"', 'title = "S"']
        lines += ["initial = true"] if i == 0 else []
    lines += ["[[stages]]", 'id = "end"', 'title = "End"', "final = true"]
    for i in range(stars):
        lines += ["[[triggers]]", f'id = "t{i}"', 'title = "T"', 'from = ["*"]', 'to = "end"']
    for i in range(1, stages):
        lines += ["[[triggers]]", f'id = "n{i}"', 'title = "T"']
        lines += [f'from = ["s{i - 1}-{pad}"]', f'to = "s{i}-{pad}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < 1024 * 1024
    return path


def test_check_refuses_what_new_cannot_store(tmp_path: Path) -> None:
    """A playbook whose `opened` event would be over the history line limit fails `check` (exit 1), naming the limit."""
    path = huge_playbook(tmp_path / "huge.toml")
    result = lifecycle(tmp_path, "playbooks", "check", str(path))
    assert_check_error(result, str(path), "`opened` event", f"line limit of {MAX_LINE_BYTES} bytes")


def test_star_expansion_is_capped_before_it_is_built(tmp_path: Path) -> None:
    """`from = ["*"]` expanding past what any history line could hold is refused before expanding."""
    path = huge_playbook(tmp_path / "stars.toml", stages=1100, stars=4000, pad="x")
    result = lifecycle(tmp_path, "playbooks", "check", str(path))
    assert_check_error(result, 'from = ["*"] expands to', "could never be stored")


def clash(folder: Path) -> Path:
    """A copy of the shipped `au` playbook under another file name (same id) in *folder*."""
    folder.mkdir(exist_ok=True)
    copy = folder / "au-copy.toml"
    copy.write_text((ROOT / "playbooks" / "au.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return copy


def test_check_reports_an_id_clash_in_the_catalog(tmp_path: Path) -> None:
    """A file in a --playbooks folder whose id another source defines fails `check`, naming both."""
    copy = clash(tmp_path / "pbs")
    result = lifecycle(tmp_path, "--playbooks", str(copy.parent), "playbooks", "check", str(copy))
    assert_check_error(result, f"{copy}: $.id: playbook id 'au'", "au.toml", "INVALID")
    listed = lifecycle(tmp_path, "--playbooks", str(copy.parent), "playbooks", "list")
    assert "au             INVALID" in listed.stdout


def test_check_warns_of_a_clash_with_an_installed_playbook(tmp_path: Path) -> None:
    """A file outside the catalog with an installed id passes `check` with a warning naming the other source."""
    copy = clash(tmp_path / "elsewhere")
    result = lifecycle(tmp_path, "playbooks", "check", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK     {copy}")
    assert result.stderr.startswith(f"warning: {copy}: playbook id 'au' is also the id of ")


def test_check_of_the_shipped_playbooks_has_no_clash() -> None:
    """Checking the shipped folder itself reports no clash: a file is never its own rival."""
    result = run_cli("playbooks", "check", str(ROOT / "playbooks"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_new_refuses_an_id_already_taken(tmp_path: Path) -> None:
    """`playbooks new au` refuses (exit 2, one line naming the other source) and writes no file."""
    folder = tmp_path / "mine"
    result = lifecycle(tmp_path, "playbooks", "new", "au", "--dir", str(folder))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Playbook id 'au' is taken already" in result.stderr and "au.toml" in result.stderr
    assert not (folder / "au.toml").exists()

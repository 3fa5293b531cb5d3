"""`lifecycle playbooks check`: every definition error exits 1 naming the file and key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT

BROKEN = FIXTURES / "broken"
Cli = Callable[..., tuple[int, str, str]]

CASES = [
    ("syntax", "TOML syntax: "),
    ("wrong-type", "$.title: expected a string, got an integer"),
    ("wrong-type-nested", "$.stages[0].initial: expected true or false, got an integer"),
    ("wrong-type-nested", "$.triggers[0].from: expected an array, got a string"),
    ("missing-key", "$.stages[1].title: missing required key"),
    ("unknown-key", "$.stages[0]: unknown key intial"),
    ("duplicate-stage", "$.stages[3].id: duplicate id 'briefing'"),
    ("duplicate-trigger", "$.triggers[4].id: duplicate id 'begin'"),
    ("duplicate-item", "$.stages[1].checklist[0].id: duplicate checklist item id 'start-item'"),
    ("unknown-stage-to", "$.triggers[3].to: unknown stage 'briefng'"),
    ("unknown-stage-from", "$.triggers[1].from[0]: unknown stage 'briefng'"),
    ("unknown-fact", "$.rules[0].fact: unknown fact 'mandat'"),
    ("unknown-trigger", "$.rules[0].on[0]: unknown trigger 'clsoe'"),
    ("unknown-activity", "$.rules[0].on_activity[0]: unknown activity 'retret'"),
    ("unknown-activity-param", "$.rules[0].activity: unknown activity 'retret'"),
    ("unknown-after", "$.rules[0].after: unknown trigger or activity 'nothing'"),
    ("after-list-unknown", "$.rules[0].after: unknown trigger or activity 'nothing'"),
    ("after-list-empty", "$.rules[0].after: expected str or a non-empty list of str, got list"),
    ("no-initial", "$.stages: exactly one stage must be initial (found none)"),
    ("two-initial", "$.stages: exactly one stage must be initial (found 'start', 'briefing')"),
    ("unreachable", "$.stages[3]: stage 'orphan' is unreachable from 'start'"),
    ("dead-end", "$.stages[3]: stage 'limbo' is not final but no trigger leaves it"),
    ("final-exit", "$.stages[2].final: final stage 'closed' has a way out"),
    ("unknown-kind", "$.rules[0].kind: unknown rule kind 'fact-requird'"),
    ("param-missing", "$.rules[0].fact: rule kind 'fact-required' needs 'fact'"),
    ("param-type", "$.rules[0].days: expected int, got str"),
    ("param-unknown", "$.rules[0].stage: unknown parameter for rule kind 'fact-required'"),
    ("extends-unknown-stage", "$.triggers[3].to: unknown stage 'briefng'"),
]
CASE_IDS = [f"{name}:{fragment.split(':')[0]}" for name, fragment in CASES]


class TestBrokenFiles:
    @pytest.mark.parametrize(("name", "fragment"), CASES, ids=CASE_IDS)
    def test_check_reports_file_and_key_path(self, cli: Cli, name: str, fragment: str) -> None:
        """Each broken file exits 1 with an ERROR line naming the file, then the key path."""
        path = BROKEN / f"{name}.toml"
        code, out, err = cli("playbooks", "check", str(path))
        assert code == 1
        assert f"ERROR  {path}: {fragment}" in err
        assert "Traceback" not in err and "OK " not in out

    @pytest.mark.parametrize("name", sorted({name for name, _ in CASES}))
    def test_every_error_line_names_its_file(self, cli: Cli, name: str) -> None:
        """Every line on stderr is one ERROR line naming the checked file."""
        path = BROKEN / f"{name}.toml"
        code, _, err = cli("playbooks", "check", str(path))
        lines = err.splitlines()
        assert code == 1 and lines
        assert all(line.startswith(f"ERROR  {path}: ") for line in lines)

    def test_every_problem_is_reported_not_only_the_first(self, cli: Cli) -> None:
        """A file with two problems gets both, each with its own key path."""
        path = BROKEN / "many-problems.toml"
        code, _, err = cli("playbooks", "check", str(path))
        assert code == 1
        assert f"{path}: $.triggers[3].to: unknown stage 'briefng'" in err
        assert f"{path}: $.rules[0].fact: unknown fact 'mandat'" in err

    def test_a_folder_of_broken_files_reports_each_file(self, cli: Cli) -> None:
        """Checking the broken folder exits 1 and names every file in it."""
        code, _, err = cli("playbooks", "check", str(BROKEN))
        assert code == 1
        for path in sorted(BROKEN.glob("*.toml")):
            assert f"ERROR  {path}: " in err, path.name

    def test_one_broken_file_fails_a_check_of_good_ones(self, cli: Cli) -> None:
        """A good file next to a broken one is reported OK, but the exit code is still 1."""
        good = FIXTURES / "rules-fixture.toml"
        code, out, err = cli("playbooks", "check", str(good), str(BROKEN / "no-initial.toml"))
        assert code == 1
        assert f"OK     {good}" in out
        assert "exactly one stage must be initial" in err

    def test_missing_file_is_a_usage_error(self, cli: Cli, tmp_path: Path) -> None:
        """Checking a file that does not exist exits 2 with one line on stderr."""
        code, _, err = cli("playbooks", "check", str(tmp_path / "nope.toml"))
        assert code == 2
        assert len(err.strip().splitlines()) == 1 and "nope.toml" in err


class TestGoodFiles:
    def test_shipped_playbooks_check_clean(self, cli: Cli) -> None:
        """`playbooks check playbooks/` on the shipped folder exits 0 with one OK per file."""
        folder = ROOT / "playbooks"
        code, out, err = cli("playbooks", "check", str(folder))
        assert code == 0, err
        assert err == ""
        for path in sorted(folder.glob("*.toml")):
            assert f"OK     {path}  ({path.stem}@" in out

    def test_fixture_playbooks_check_clean(self, cli: Cli) -> None:
        """The fixture playbooks of tests/playbooks/ are all valid."""
        code, out, err = cli("playbooks", "check", str(FIXTURES))
        assert code == 0, err
        assert out.count("OK     ") == len(list(FIXTURES.glob("*.toml")))

    def test_check_prints_short_sha256(self, cli: Cli) -> None:
        """The OK line carries id@version and the first 12 hex digits of the sha256."""
        code, out, _ = cli("playbooks", "check", str(ROOT / "playbooks" / "core.toml"))
        assert code == 0
        digest = out.split("sha256 ")[1].split(")")[0]
        assert len(digest) == 12 and int(digest, 16) >= 0
        assert "(core@1.3.0, " in out

    def test_checking_a_copy_of_an_installed_playbook_checks_the_copy(
        self, cli: Cli, tmp_path: Path
    ) -> None:
        """A file given to check shadows the installed playbook of the same id."""
        copy = tmp_path / "core.toml"
        text = (ROOT / "playbooks" / "core.toml").read_text(encoding="utf-8")
        copy.write_text(text.replace('to = "closed"', 'to = "closd"'), encoding="utf-8")
        code, _, err = cli("playbooks", "check", str(copy))
        assert code == 1
        assert f"{copy}: $.triggers[" in err and "unknown stage 'closd'" in err

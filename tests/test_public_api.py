"""The public surface: `lifecycle.__all__` is sorted, complete and importable."""

from __future__ import annotations

import doctest
import importlib

import lifecycle


def test_all_is_sorted():
    """`__all__` is sorted the way ruff's RUF022 sorts it (case-sensitive)."""
    assert lifecycle.__all__ == sorted(lifecycle.__all__)


def test_all_names_exist():
    """Every name in `__all__` is an attribute of the package."""
    for name in lifecycle.__all__:
        assert hasattr(lifecycle, name), name


def test_no_public_name_left_out():
    """Every public attribute of the package is listed in `__all__` (modules aside)."""
    public = {n for n in vars(lifecycle) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(lifecycle, n)).__name__ == "module"}
    assert public - modules - {"annotations"} <= set(lifecycle.__all__)


def test_public_modules_import():
    """The public modules import on their own."""
    for name in (
        "lifecycle.exceptions",
        "lifecycle.hookspecs",
        "lifecycle.testing",
        "lifecycle.cli",
    ):
        assert importlib.import_module(name)


def test_exceptions_share_one_root():
    """Every exception lifecycle defines derives from LifecycleError."""
    from lifecycle import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.LifecycleError), name


def test_doctests_pass():
    """The executable examples in public docstrings run as written."""
    for module in ("lifecycle", "lifecycle._engine", "lifecycle.testing", "lifecycle._playbooks"):
        mod = importlib.import_module(module)
        globs = {"shipped_playbooks_dir": lifecycle._playbooks.shipped_playbooks_dir}
        result = doctest.testmod(mod, extraglobs=globs, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module
        assert result.attempted > 0, module

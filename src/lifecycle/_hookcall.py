"""Calling plugin hooks through pluggy, with each plugin's failure kept apart.

pluggy calls the hooks (``manager.hook.<name>(**kwargs)``), so ordering, ``tryfirst``/``trylast``
and wrappers all work as pluggy documents. What pluggy does not do is go on after one plugin
raises: so every ordinary implementation is registered behind a guard that records what it
returned or raised, under the plugin's name, and lets the next one run. Anything a plugin raises
(``SystemExit`` included; only ``KeyboardInterrupt`` passes) becomes a :class:`PluginError`.
"""

from __future__ import annotations

import copy
import functools
import types
from collections.abc import Callable, Iterator
from typing import Any, Final

import attrs
import pluggy

from .exceptions import PluginError

__all__ = ["Calls", "HookCalls", "guarded_plugin"]

# A wrapper sees and may change every other plugin's result; for these hooks lifecycle takes
# each plugin's own contribution, so a wrapper there could only be ignored: it is refused instead.
NO_WRAPPERS: Final = frozenset({"register_playbooks", "register_rule_kinds"})


@attrs.define
class Calls:
    """What one hook call gave: each plugin's result, in pluggy's call order, and each failure."""

    results: list[tuple[str, Any]] = attrs.field(factory=list)  # Any: whatever the hook returns
    errors: list[PluginError] = attrs.field(factory=list)


class HookCalls:
    """Calls hooks through pluggy and collects what the guarded implementations report."""

    def __init__(self, trace: Callable[[str], object] | None = None) -> None:
        self._stack: list[Calls] = []  # a hook may run a command that calls hooks again
        self._tracer = trace

    def trace(self, line: str) -> None:
        """Write *line* to the tracer, when tracing."""
        if self._tracer is not None:
            self._tracer(f"[lifecycle plugins] {line}\n")

    def call(self, manager: pluggy.PluginManager, hook: str, **kwargs: Any) -> Calls:
        """Call *hook* with keyword arguments only; never raises for a plugin's sake."""
        # Any: hook arguments are whatever each hook documents.
        calls = Calls()
        self._stack.append(calls)
        try:
            getattr(manager.hook, hook)(**kwargs)
        except BaseException as exc:  # what a wrapper raised (the others are guarded)
            if isinstance(exc, KeyboardInterrupt):
                raise
            name = _culprit(manager, hook, exc)
            calls.errors.append(PluginError(name, f"{hook} failed: {_describe(exc)}"))
        finally:
            self._stack.pop()
        return calls

    def _record(self, name: str, result: Any = None, error: PluginError | None = None) -> None:
        # Any: a hook's result.
        if self._stack:
            target = self._stack[-1]
            if error is None:
                target.results.append((name, result))
            else:
                target.errors.append(error)

    def guard(self, hook: str, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """*function* behind a guard that records its result or failure under *name*."""
        # Any: hook implementations take and return whatever their hook documents.
        isolate = hook == "lifecycle_event"

        @functools.wraps(function)  # pluggy reads the arguments through __wrapped__
        def guarded(*args: Any) -> Any:
            self.trace(f"{hook} -> {name}")
            if isolate:  # each plugin gets its own copy of the event
                args = tuple(copy.deepcopy(a) if type(a) is dict else a for a in args)
            try:
                result = function(*args)
                if hook.startswith("register_") and result is not None:
                    result = list(result)
            except BaseException as exc:  # plugin code: anything it raises is its failure
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._record(name, error=PluginError(name, f"{hook} failed: {_describe(exc)}"))
                return None
            self._record(name, result)
            return result

        return guarded


def guarded_plugin(
    manager: pluggy.PluginManager, plugin: object, name: str, calls: HookCalls
) -> object:
    """What is registered for *plugin*: its hook implementations, each behind a guard.

    Raises:
        PluginError: A wrapper implements a hook that takes each plugin's own results.
    """
    members: dict[str, object] = {"__name__": name}
    for attr in dir(plugin):
        try:
            opts = manager.parse_hookimpl_opts(plugin, attr)
        except Exception:  # noqa: BLE001 - a plugin attribute may raise when read: not a hook
            continue
        if opts is None:
            continue
        function = getattr(plugin, attr)
        if opts.get("wrapper") or opts.get("hookwrapper"):
            if attr in NO_WRAPPERS:
                raise PluginError(name, f"a wrapper implementation of {attr} is not supported")
            members[attr] = function  # pluggy drives it around the guarded implementations
        else:
            members[attr] = calls.guard(attr, name, function)
    return types.SimpleNamespace(**members)


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _culprit(manager: pluggy.PluginManager, hook: str, exc: BaseException) -> str:
    """The plugin whose wrapper raised *exc*: the innermost frame that is one of its hooks."""
    codes = {
        _code(impl.function): impl.plugin_name
        for impl in getattr(manager.hook, hook).get_hookimpls()
    }
    name = "unknown"
    for frame_code in _frames(exc):
        name = codes.get(frame_code, name)
    return name


def _frames(exc: BaseException) -> Iterator[object]:
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next


def _code(function: Callable[..., Any]) -> object:
    # Any: a function or bound method.
    inner = getattr(function, "__func__", function)
    return getattr(inner, "__code__", None)

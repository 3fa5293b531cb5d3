"""The engine: every command takes the history's lock, replays, decides, appends, then applies.

The engine writes the history itself (DESIGN principle 5): it never relies on ``transitions``
callbacks. Each command appends exactly one event, refusals included; plugins hear of an event only
after it is durably appended, and their errors never undo it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from . import _commandparts as parts
from ._attempt import retried, session_for
from ._authority import Authority
from ._decide import Outcome, check_override, evaluate, gate, missing_reason
from ._due import DueItem, due_across
from ._inputs import check_actor
from ._lesson_record import LessonCommands, check_cites, cites_data
from ._lessons import related_lessons
from ._lines import format_at
from ._machine import compile_machine
from ._practice import PracticeCommands, check_occurrence, check_params
from ._practice_entry import entry_data
from ._practice_replay import event_version
from ._replay import apply, replay
from ._results import Result, _Ctx
from ._rules import RuleKind
from ._state import Action, Engagement
from ._statecache import StateCache, continued
from ._status import status_of
from ._store import FileStore, Store
from ._workspace import Workspace, check_engagement_id, fact_values, parse_assignments
from .exceptions import (
    ConcurrencyConflict,
    InvalidInputError,
    NotFoundError,
    RefusedError,
)

if TYPE_CHECKING:
    from ._catalog import Catalog
    from ._keys import PrivateKey
    from ._plugins import Plugins

__all__ = ["Engine", "Result"]  # Result: re-exported from ._results, where it lives

Record = dict[str, Any]  # Any: a JSON object as stored.


class Engine(PracticeCommands, LessonCommands):
    """Runs engagements of one workspace.

    >>> import tempfile
    >>> from lifecycle import make_plugin_manager
    >>> engine = Engine(tempfile.mkdtemp(), plugins=make_plugin_manager(load_entrypoints=False))
    >>> engine.open("demo-1", "core", actor="a.mensah").engagement.stage
    'support-request'
    """

    def __init__(
        self,
        workspace: Path | str | None = None,
        *,
        store: Store | None = None,
        plugins: Plugins | None = None,
        playbook_dirs: Sequence[Path] = (),
        clock: Callable[[], dt.datetime] | None = None,
        key: PrivateKey | None = None,
    ) -> None:
        if (workspace is None) == (store is None):
            raise InvalidInputError("Give an engine either a workspace folder or a store.")
        self.store: Store = store if store is not None else FileStore(Path(str(workspace)))
        # Who acts and with what roles: the keyring's, when the workspace has one (#12).
        self.authority = Authority(self.store, key)
        if plugins is None:
            from ._plugins import make_plugin_manager  # pluggy, only for an engine that needs it

            plugins = make_plugin_manager()
        self.plugins = plugins
        self._playbook_dirs = tuple(playbook_dirs)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._catalog: Catalog | None = None
        # The state after the last command on each history, with the anchor that proves it is
        # current: the next command verifies the anchor and reads only what came after it.
        self._states = StateCache(self.store)

    @property
    def workspace(self) -> Workspace:
        """The workspace folder, when the engine runs on the file store.

        Raises:
            InvalidInputError: The engine runs on another store.
        """
        if not isinstance(self.store, FileStore):
            raise InvalidInputError(f"The store {self.store.label} has no workspace folder.")
        return self.store.workspace

    def engagements(self) -> list[str]:
        """Every engagement id in the store, sorted."""
        return self.store.engagements()

    @property
    def catalog(self) -> Catalog:
        """Every playbook this engine knows (plugins' and ``playbook_dirs``)."""
        if self._catalog is None:
            self._catalog = self.plugins.catalog(self._playbook_dirs)
        return self._catalog

    @property
    def rule_kinds(self) -> Mapping[str, RuleKind]:
        """The rule-kind registry."""
        return self.plugins.rule_kinds()

    # ------------------------------------------------------------------ reading

    def engagement(self, engagement_id: str) -> Engagement:
        """The engagement as it stands: a replay of its history."""
        self.store.require(engagement_id)
        cached = self._states.cached(engagement_id)
        records, anchor = self.store.read_after(engagement_id, cached[1] if cached else None)
        label = self.store.label_of(engagement_id)
        engagement, used = continued(label, cached, records, anchor)
        self._states.remember(engagement_id, engagement, anchor, used)
        return engagement

    def history(self, engagement_id: str) -> list[Record]:
        """The verified events of *engagement_id*, oldest first, each checked against its schema."""
        from ._events import check_events

        return check_events(self.store.label_of(engagement_id), self._read(engagement_id))

    def engagement_at(self, engagement_id: str, seq: int) -> Engagement:
        """The engagement as it stood after event *seq* (CorruptHistoryError if unreplayable)."""
        records = self._read(engagement_id)[:seq]
        return continued(self.store.label_of(engagement_id), None, records, None)[0]

    def _read(self, engagement_id: str) -> list[Record]:
        self.store.require(engagement_id)
        return self.store.read_after(engagement_id, None)[0]

    def roles_of(self, actor: str) -> tuple[str, ...]:
        """The roles of *actor* in this workspace (the keyring's, when it has one)."""
        roles = self.authority.roles_of(actor)
        return roles if roles is not None else self.store.roles_of(actor)

    def status(self, engagement_id: str, *, actor: str) -> dict[str, Any]:
        """The dry run: stage, facts, checklist, and for every trigger and activity whether
        *actor* may do it now and, if not, every reason (docs/cli.md, ``status --json``)."""
        return self.status_of_engagement(self.engagement(engagement_id), actor=actor)

    def status_of_engagement(self, engagement: Engagement, *, actor: str) -> dict[str, Any]:
        """:meth:`status` of an engagement state already replayed (e.g. up to a past event);
        ``lessons`` are those of the workspace now (#15)."""
        data = status_of(
            engagement,
            actor=actor,
            roles=self.roles_of(actor),
            kinds=self.rule_kinds,
            today=self.today(),
        )
        return {**data, "lessons": related_lessons(self, engagement)}

    def due(self) -> tuple[list[DueItem], list[str]]:
        """What is due across the workspace, soonest first, and the engagements that could not
        be read (each as one line)."""
        return due_across(self.store.engagements(), self.engagement, self.today())

    def today(self) -> dt.date:
        """Today's date (UTC), as the engine's clock says."""
        return self._clock().astimezone(dt.UTC).date()

    # ------------------------------------------------------------------ commands

    def open(
        self,
        engagement_id: str,
        playbook_id: str,
        *,
        actor: str,
        title: str = "",
        facts: Mapping[str, str] | Sequence[str] = (),
        entry: str | None = None,
        channel: str | None = None,
    ) -> Result:
        """Open a new engagement under *playbook_id*; the first event embeds the playbook.

        With *entry* (and *channel*), it opens at that entry stage (#13)."""
        resolved = self.catalog.resolve(playbook_id)
        values = fact_values(
            resolved.playbook.facts,
            parse_assignments(facts if isinstance(facts, Mapping) else list(facts)),
        )
        check_engagement_id(engagement_id)
        check_actor(actor)
        self.authority.check_actor(actor)
        at = self._now("")
        data = parts.opened_data(
            engagement_id, title, resolved, {k: v for k, v in values.items() if v is not None}
        )
        data.update(entry_data(resolved.playbook, entry, channel))
        fields = {
            "at": at,
            "actor": actor,
            "type": "opened",
            "v": event_version("opened", data),
            "data": data,
        }
        event = self.store.create(
            engagement_id, at, self.authority.first(engagement_id, at, fields)
        )
        engagement = replay([event])
        return Result(event, engagement, plugin_errors=self.plugins.notify(engagement, event))

    @retried
    def set_facts(
        self,
        engagement_id: str,
        assignments: Mapping[str, str] | list[str],
        *,
        actor: str,
        expected_seq: int | None = None,
    ) -> Result:
        """Set (or, with an empty value, unset) facts; one event for all of them."""
        pairs = parse_assignments(assignments)
        if not pairs:
            raise InvalidInputError("Give at least one KEY=VALUE.")
        with self._open(engagement_id, actor, expected_seq) as ctx:
            values = fact_values(ctx.engagement.playbook.facts, pairs)
            return self._append(ctx, "fact_set", {"facts": values})

    @retried
    def check(
        self,
        engagement_id: str,
        item: str,
        *,
        actor: str,
        note: str = "",
        expected_seq: int | None = None,
        cites: Sequence[str] = (),
    ) -> Result:
        """Tick checklist *item*, of the current stage or of a stage visited before; an item
        marked ``lessons = true`` may *cite* lessons of other engagements (``ENGAGEMENT:SEQ``)."""
        wanted = check_cites(self, engagement_id, cites)  # reads others: before this lock
        with self._open(engagement_id, actor, expected_seq) as ctx:
            stage = parts.item_stage(ctx.engagement, item)
            data = {"item": item, "stage": stage, **cites_data(ctx.engagement, item, wanted)}
            data.update({"note": note} if note else {})
            return self._append(ctx, "item_checked", data)

    @retried
    def uncheck(
        self, engagement_id: str, item: str, *, actor: str, expected_seq: int | None = None
    ) -> Result:
        """Untick checklist *item*."""
        with self._open(engagement_id, actor, expected_seq) as ctx:
            stage = parts.item_stage(ctx.engagement, item)
            if not ctx.engagement.is_done(item):
                raise RefusedError(f"Checklist item {item!r} is not checked.")
            return self._append(ctx, "item_unchecked", {"item": item, "stage": stage})

    @retried
    def note(
        self, engagement_id: str, text: str, *, actor: str, expected_seq: int | None = None
    ) -> Result:
        """Add a note to the history (allowed in final stages too)."""
        if not text.strip():
            raise InvalidInputError("A note needs text.")
        with self._command(engagement_id, actor, expected_seq) as ctx:
            return self._append(ctx, "note_added", {"text": text})

    @retried
    def record(
        self,
        engagement_id: str,
        activity: str,
        *,
        actor: str,
        on: dt.date | None = None,
        note: str = "",
        override: str | None = None,
        expected_seq: int | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Result:
        """Record that *activity* took place *on* a date (today by default, never in the future),
        with its *params* (#13).

        Raises:
            RefusedError: The activity is not allowed now (the refusal is recorded first).
        """
        with self._open(engagement_id, actor, expected_seq) as ctx:
            eng = ctx.engagement
            spec, day = (
                parts.activity_spec(eng, activity),
                parts.activity_day(on, parts.day_of(ctx.at)),
            )
            given = check_params(eng, activity, params or {})
            action = Action("activity", activity, day, tuple(sorted(given.items())))
            outcomes = evaluate(eng, action, self.rule_kinds)
            data: Record = {"activity": activity, "on": day.isoformat(), "stage": eng.stage}
            if given:
                data["params"] = given
            if note:
                data["note"] = note
            if eng.stage not in spec.during:
                during = ", ".join(spec.during) or "no stage"
                why = f"activity {activity!r} is recorded during {during}, not {eng.stage!r}"
                self._refuse(ctx, "record", data, outcomes, [why], override)
            return self._decide(ctx, "record", "activity_recorded", data, outcomes, override)

    @retried
    def advance(
        self,
        engagement_id: str,
        trigger: str,
        *,
        actor: str,
        override: str | None = None,
        reason: str | None = None,
        expected_seq: int | None = None,
        on: dt.date | None = None,
    ) -> Result:
        """Fire *trigger*: check its rules, the checklist gate and its *reason*, record, and move
        (the move happened *on* a day: today by default, #13).

        Raises:
            NotFoundError: The playbook has no such trigger.
            RefusedError: The move is not allowed now (the refusal is recorded first).
            ConcurrencyConflict: *expected_seq* is given and another event came first.
        """
        with self._open(engagement_id, actor, expected_seq, allow_final=True) as ctx:
            eng = ctx.engagement
            spec = eng.playbook.trigger(trigger)
            if eng.final and not (spec and spec.new_round and eng.stage in spec.from_):
                parts.refuse_final(eng)
            machine = compile_machine(eng.playbook, eng.playbook_sha256)
            dest = machine.target(trigger, eng.stage, eng.came_from())
            day = check_occurrence(eng, on, parts.day_of(ctx.at)) if on else parts.day_of(ctx.at)
            action = Action("trigger", trigger, day)
            outcomes = evaluate(eng, action, self.rule_kinds)
            outcomes += [g for g in [gate(eng, trigger)] if g is not None]
            data: Record = {"trigger": trigger, "from": eng.stage, "to": dest}
            if on is not None:
                data["on"] = day.isoformat()
            if spec and spec.new_round:
                data["round"] = eng.round + 1
            if reason is not None and reason.strip():
                data["reason"] = reason.strip()  # given where none is needed: recorded too
            why = [f"trigger {trigger!r} cannot fire from stage {eng.stage!r}"] * (dest is None)
            why += missing_reason(eng.playbook.trigger(trigger), reason)
            if why:
                self._refuse(ctx, "advance", data, outcomes, why, override)
            return self._decide(ctx, "advance", "advanced", data, outcomes, override)

    @retried
    def force(
        self,
        engagement_id: str,
        stage: str,
        *,
        actor: str,
        reason: str,
        expected_seq: int | None = None,
    ) -> Result:
        """Move to *stage* regardless of triggers and rules: for ``admin_roles`` only, with a reason."""
        with self._open(engagement_id, actor, expected_seq, allow_final=True) as ctx:
            eng = ctx.engagement
            if eng.playbook.stage(stage) is None:
                raise NotFoundError("stage", stage, f"(playbook {eng.playbook.id!r})")
            roles = list(self.roles_of(actor))
            problems = parts.force_problems(eng, actor, roles, reason)
            data: Record = {"from": eng.stage, "to": stage, "roles": roles}
            if problems:
                self._refuse(ctx, "force", data, [], problems, reason)
            return self._append(ctx, "forced", data, reason=reason.strip())

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _open(
        self,
        engagement_id: str,
        actor: str,
        expected_seq: int | None = None,
        *,
        allow_final: bool = False,
    ) -> Iterator[_Ctx]:
        with self._command(engagement_id, actor, expected_seq) as ctx:
            if ctx.engagement.final and not allow_final:
                parts.refuse_final(ctx.engagement)
            yield ctx

    @contextlib.contextmanager
    def _command(
        self, engagement_id: str, actor: str, expected_seq: int | None = None
    ) -> Iterator[_Ctx]:
        """Lock, continue from the last known state, yield; plugins hear of events afterwards.

        *expected_seq* is for callers that decided on a state read earlier: if the history has
        moved on since (another writer), nothing is evaluated or written (ConcurrencyConflict).
        """
        check_actor(actor)
        check_engagement_id(engagement_id)  # the store's session says if it does not exist
        cached = self._states.cached(engagement_id)
        appended: list[Result] = []
        try:
            with session_for(self.store, engagement_id, cached) as session:
                # Under the lock, before anything is written: a shared store reads the keyring
                # and lifecycle.toml with the lock, in one round trip.
                self.authority.check_actor(actor)
                if expected_seq is not None and expected_seq != session.head_seq:
                    raise ConcurrencyConflict(session.label, expected_seq, session.head_seq)
                engagement, used = continued(session.label, cached, session.records, session.anchor)
                yield _Ctx(session, engagement, self._now(engagement.last_at), actor, appended)
                if session.anchor is not None:
                    self._states.remember(engagement_id, engagement, session.anchor, used)
        finally:
            # Plugins hear of events only after the lock is released: a hook may read the
            # history (or run a command) without deadlocking, and can never hold writers up.
            for result in appended:
                result.plugin_errors.extend(self.plugins.notify(result.engagement, result.event))

    def _now(self, last: str) -> str:
        """Now, never before the last event's ``at`` (the lock orders events; clocks may step back)."""
        return max(format_at(self._clock()), last)

    def _decide(
        self,
        ctx: _Ctx,
        action: str,
        kind: str,
        data: Record,
        outcomes: list[Outcome],
        override: str | None,
    ) -> Result:
        blocking = [o for o in outcomes if o.blocks]
        reason = None
        if blocking and override is not None:
            problems = check_override(blocking, self.roles_of(ctx.actor), override)
            if problems:
                self._refuse(ctx, action, data, outcomes, problems, override)
            roles = list(self.roles_of(ctx.actor))
            outcomes = [attrs.evolve(o, overridden=True) if o.blocks else o for o in outcomes]
            data["override"] = {"rules": [o.rule for o in blocking], "roles": roles}
            reason = override.strip()
        elif blocking:
            self._refuse(ctx, action, data, outcomes, [], None)
        elif override is not None and override.strip():
            # Nothing blocks: the override overrides nothing, but what was said is kept (#9).
            data["override"] = {"rules": [], "roles": list(self.roles_of(ctx.actor))}
            reason = override.strip()
        data["rules"] = [o.record() for o in outcomes]
        warnings = tuple(f"{o.rule}: {o.message}" for o in outcomes if o.outcome == "warn")
        result = self._append(ctx, kind, data, reason=reason)
        return attrs.evolve(result, warnings=warnings)

    def _refuse(
        self,
        ctx: _Ctx,
        action: str,
        data: Record,
        outcomes: list[Outcome],
        problems: list[str],
        override: str | None,
    ) -> None:
        """Record a refusal with every reason, then raise :class:`RefusedError`."""
        roles = list(self.roles_of(ctx.actor)) if override is not None else []
        record = parts.refusal_data(
            ctx.engagement, action, data, outcomes, problems, override, roles
        )
        event = self._append(ctx, "refused", record).event
        raise parts.refused_error(action, data, outcomes, record["why"], event["seq"])

    def _append(self, ctx: _Ctx, kind: str, data: Record, *, reason: str | None = None) -> Result:
        fields: Record = {
            "at": ctx.at,
            "actor": ctx.actor,
            "type": kind,
            "v": event_version(kind, data),
            "data": data,
        }
        if reason is not None:
            fields["reason"] = reason
        # A command appends once (a refusal, then raises): the last append of its session.
        finished = self.authority.next(ctx.engagement.id, ctx.session, fields)
        event = ctx.session.append(finished, last=True)
        apply(ctx.engagement, event)
        result = Result(event, ctx.engagement)
        ctx.appended.append(result)
        return result

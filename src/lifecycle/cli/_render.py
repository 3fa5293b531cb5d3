"""Plain-text rendering of what the commands print (the JSON forms are in docs/cli.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .._inputs import CONTROL_CHARS

if TYPE_CHECKING:
    from .._dueitem import DueItem

__all__ = ["due", "engagements", "escape", "lessons", "status", "timeline"]

Json = Mapping[str, Any]  # Any: JSON objects.

_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# CONTROL_CHARS but the newline: for text whose only newlines are the ones between its lines.
_CONTROL_BUT_NEWLINE: Final = re.compile(
    CONTROL_CHARS.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f")
)
# The same set within ASCII (the rest of it is beyond ASCII): a test holds the two equal.
_ASCII_CONTROLS_BUT_NEWLINE: Final = bytes([*range(0x0A), *range(0x0B, 0x20), 0x7F])


def escape(text: str) -> str:
    """*text* with control characters shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``), so
    that what a history holds can never add a line or hide itself when printed.

    >>> escape("line\\nfake")
    'line\\\\nfake'
    """
    return CONTROL_CHARS.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def status(data: Json) -> str:
    """The ``status`` text: where the engagement is, what is next, and what blocks it."""
    pb = data["playbook"]
    lines = [
        f"{data['engagement']}  {data['title']}".rstrip(),
        f"  playbook  {pb['id']}@{pb['version']}  (sha256 {pb['sha256'][:12]})",
        f"  stage     {data['stage']}: {data['stage_title']}"
        + ("  [final]" if data["final"] else ""),
        f"  events    {data['events']}   actor {data['actor']['name']} "
        f"({', '.join(data['actor']['roles']) or 'no roles'})",
    ]
    lines += _practice_lines(data)
    if data["facts"]:
        lines.append("facts")
        lines += [f"  {k} = {v}" for k, v in sorted(data["facts"].items())]
    if data["steps"]:
        lines.append("steps")
        lines += [f"  - {step}" for step in data["steps"]]
    if data["checklist"]:
        lines.append("checklist")
        lines += [
            f"  [{'x' if i['done'] else ' '}] {i['id']}{'' if i['required'] else ' (optional)'}"
            f": {i['text']}"
            for i in data["checklist"]
        ]
    lines += _choices("triggers", [t for t in data["triggers"] if t["from_here"]], arrow=True)
    lines += _choices("activities", [a for a in data["activities"] if data["stage"] in a["during"]])
    if data["due"]:
        lines.append("due")
        lines += [_due_line(i) for i in data["due"]]
    if data.get("lessons") is not None:  # a stage whose checklist cites lessons (#15)
        lines.append("lessons of other engagements in this country or conflict")
        lines += [f"  {line}" for line in _lesson_lines(data["lessons"])] or ["  (none)"]
    return _joined(lines)


def lessons(rows: Iterable[Json]) -> str:
    """The ``lessons`` list (#15)."""
    return _joined(_lesson_lines(rows))


def _lesson_lines(rows: Iterable[Json]) -> list[str]:
    """The text form of lesson rows (``lessons``, and ``status``'s lessons), unescaped."""
    lines: list[str] = []
    for row in rows:
        where = [f"{k} {row[k]}" for k in ("country", "conflict") if row.get(k)]
        flags = [f"matched {'+'.join(row['matched'])}"] if row.get("matched") else []
        flags += ["cited"] if row.get("cited") else []
        lines.append(
            f"{row['cite']}  {row['on']}  {row['title']}"
            + (f"  [{'; '.join(flags)}]" if flags else "")
        )
        lines.append(
            f"    {row['engagement_title'] or row['engagement']}, at {row['stage']}"
            + (f" ({', '.join(where)})" if where else "")
            + (f"; themes {', '.join(row['themes'])}" if row["themes"] else "")
        )
        lines += [f"    {part}" for part in row["text"].splitlines()]
        for heading, text in row["sections"].items():
            lines += [f"    {heading}: {part}" for part in text.splitlines()]
    return lines


def _practice_lines(data: Json) -> list[str]:
    """Round, entry, people and links (#13)."""
    lines = [f"  round     {data['round']}"] if data.get("round", 1) > 1 else []
    if data.get("entry"):
        lines.append(
            f"  entered   at {data['entry']}"
            + (f" via {data['channel']}" if data.get("channel") else "")
        )
    if data.get("people"):
        lines.append("people")
        lines += [
            f"  {p['name']} ({p['role']}{', ' + p['org'] if p['org'] else ''}) since {p['since']}"
            + (f", left {p['left']}" if p["left"] else "")
            for p in data["people"]
        ]
    if data.get("links"):
        lines.append("links")
        lines += [f"  {link['relation']} {link['other']}" for link in data["links"]]
    return lines


def _joined(lines: Iterable[str]) -> str:
    """The lines, each escaped: a newline inside a value stays inside its line."""
    shown = list(lines)
    text = "\n".join(shown)
    if text.count("\n") != len(shown) - 1:  # a line holds a newline: each line on its own
        return "\n".join(map(escape, shown))
    if text.isascii():  # the usual case, checked in C at memory speed (`due` on 10,000, #14)
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROLS_BUT_NEWLINE)) == len(raw):
            return text
    return _CONTROL_BUT_NEWLINE.sub(_escape_one, text)


def _choices(title: str, entries: Sequence[Json], *, arrow: bool = False) -> list[str]:
    if not entries:
        return []
    lines = [title]
    for entry in entries:
        target = f" -> {entry['to']}" if arrow else ""
        mark = "allowed" if entry["allowed"] else "blocked"
        lines.append(f"  {entry['id']}{target}: {mark}")
        for block in entry["blocked_by"]:
            could = "you may override it" if block["overridable"] else block["why_not"]
            lines.append(f"      x {block['rule']}: {block['message']} ({could})")
        lines += [f"      ! {w['rule']}: {w['message']}" for w in entry["warnings"]]
    return lines


def _due_line(item: Json) -> str:
    state = "OVERDUE" if item["overdue"] else "due"
    return f"  {item['due']}  {state:<7}  {item['kind']} {item['id']}  ({item['source']})"


def engagements(rows: Iterable[Json]) -> str:
    """The ``list`` table."""
    lines = []
    for row in rows:
        if row.get("error"):
            lines.append(f"{row['engagement']:<24} ERROR {row['error']}")
            continue
        final = " [final]" if row["final"] else ""
        extra = [f"country {country}"] if (country := row.get("country")) else []
        if envoy := row.get("envoy"):
            extra.append(f"envoy {envoy}")
        if links := row.get("links"):
            extra += [f"{link['relation']} {link['other']}" for link in links]
        title = f" {row['title']!r}" if row.get("title") else ""
        lines.append(  # escaped by _joined
            f"{row['engagement']:<24} {row['playbook']}@{row['version']:<8} "
            f"{row['stage']}{final}  ({row['events']} events){title}"
            + (f"  [{'; '.join(extra)}]" if extra else "")
        )
    return _joined(lines) if lines else "No engagements in this workspace."


def timeline(events: Iterable[Json]) -> str:
    """The ``history`` timeline: one line per event, with decisions and reasons."""
    return "\n".join(_safe_event_line(e) for e in events)


# What a verified but hostile event (every hash right, a field missing or of the wrong type)
# raises while it is rendered: shown as such, never a crash (#10; the readers' schema check is
# the real guard, this is the renderer's own).
_BAD_DATA: Final = (KeyError, TypeError, AttributeError, IndexError, ValueError)


def _safe_event_line(event: Json) -> str:
    try:
        return _event_line(event)
    except _BAD_DATA as exc:
        return escape(
            f"{event.get('seq')!s:>4}  {event.get('type')!s}: malformed event "
            f"({type(exc).__name__}: {exc}); `lifecycle audit` names the problem"
        )


def _event_line(event: Json) -> str:
    data = event.get("data", {})
    head = f"{event['seq']:>4}  {event['at'][:19].replace('T', ' ')}  {event['actor']:<14}"
    kind = event["type"]
    body = {
        "opened": lambda: (
            f"opened under {data['playbook']['id']}@{data['playbook']['version']}"
            + (f" at {data['entry']}" if data.get("entry") else "")
            + (f" via {data['channel']}" if data.get("channel") else "")
            + (f": {data['title']}" if data.get("title") else "")
        ),
        "fact_set": lambda: "set " + ", ".join(f"{k}={v}" for k, v in data["facts"].items()),
        "item_checked": lambda: (
            f"checked {data['item']}"
            + (f", citing {', '.join(data['cites'])}" if data.get("cites") else "")
            + (f" ({data['note']})" if data.get("note") else "")
        ),
        "lesson": lambda: (
            f"lesson at {data['stage']}"
            + (f" on {data['on']}" if data.get("on") else "")
            + f": {data['title']}"
            + (f" [{', '.join(data['themes'])}]" if data.get("themes") else "")
        ),
        "item_unchecked": lambda: f"unchecked {data['item']}",
        "activity_recorded": lambda: (
            f"recorded {data['activity']} on {data['on']}"
            + (f" ({data['note']})" if data.get("note") else "")
        ),
        "note_added": lambda: f"note: {data['text']}",
        "advanced": lambda: (
            f"advanced by {data['trigger']}: {data['from']} -> {data['to']}"
            + (f" on {data['on']}" if data.get("on") else "")
            + (f" (round {data['round']})" if data.get("round") else "")
        ),
        "person_added": lambda: (
            f"{data['name']} joined as {data['role']} on {data['on']}"
            + (f" ({data['org']})" if data.get("org") else "")
        ),
        "person_left": lambda: f"{data['name']} left on {data['on']}",
        "handed_over": lambda: f"handover {data['from']} -> {data['to']} on {data['on']}",
        "linked": lambda: f"linked to {data['other']} as {data['relation']}",
        "unlinked": lambda: f"unlinked {data['other']} ({data['relation']})",
        "refused": lambda: (
            f"REFUSED {data.get('action')} "
            f"{data.get('trigger') or data.get('activity') or data.get('to')}: "
            + "; ".join(data.get("why", []))
        ),
        "forced": lambda: f"FORCED {data['from']} -> {data['to']}",
        "repaired": lambda: (
            f"repaired: cut {data.get('cut_bytes')} torn bytes, saved to {data.get('saved_to')}"
        ),
    }.get(kind, lambda: kind)()
    extra = []
    if isinstance(data.get("override"), dict) and event["type"] != "refused":
        rules = ", ".join(data["override"].get("rules", []))
        extra.append(
            f"      override of {rules} by {event['actor']} "
            f"({', '.join(data['override'].get('roles', []))}): {event.get('reason', '')}"
        )
    elif event.get("reason"):
        extra.append(f"      reason: {event['reason']}")
    for rule in data.get("rules", []) if isinstance(data.get("rules"), list) else []:
        if rule.get("outcome") in ("warn", "block", "overridden"):
            extra.append(f"      {rule['outcome']}: {rule['rule']}: {rule.get('message', '')}")
    return _joined([f"{head}  {body}", *extra])


def due(items: Sequence[DueItem]) -> str:
    """The ``due`` list."""
    if not items:
        return "Nothing due."
    return _joined(
        f"{i.due.isoformat()}  {'OVERDUE' if i.overdue else 'due':<7}  {i.engagement:<20} "
        f"{i.kind} {i.id}  ({i.source})"
        for i in items
    )

"""The administration engine: a UI-free state machine over one instrument, every answer on disk at once.

:class:`Administration` walks the items of one stored administration: the current item, answer, back, skip
(where the instrument's missing-item rule allows it), decline, quit. Each answer is written to the store
(committed) before the engine moves to the next item, so a killed process loses nothing already answered;
an engine built on an interrupted administration starts at the first item with no stored answer.

:func:`interpret` turns one line a person typed into a command, and :func:`run` drives an administration
with any front end that implements :class:`Frontend` (the ``ipt administer`` command is one; a web form or
a tablet app would be another). Nothing here imports Click.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from .assess import answer_alerts, is_critical_item
from .errors import UsageError
from .plain import Flag, Instrument, Item, ResponseOption
from .scoring import critical_flags


class Administration:
    """One administration of one instrument, backed by the store."""

    def __init__(self, store: Any, instrument: Instrument, administration_id: int):
        self.store = store
        self.instrument = instrument
        self.id = administration_id
        self.record = store.get_administration(administration_id)
        if self.record["instrument_id"] != instrument.id:
            raise UsageError(
                f"administration {administration_id} is of {self.record['instrument_id']}, not {instrument.id}"
            )
        self.items: list[Item] = list(instrument.items)
        self.responses: dict[str, dict] = store.responses(administration_id)
        self.index = self._first_unanswered()

    # -- where we are ------------------------------------------------------------------------------

    def _first_unanswered(self) -> int:
        for n, item in enumerate(self.items):
            if item.id not in self.responses:
                return n
        return len(self.items)

    @property
    def finished(self) -> bool:
        """Every item has a stored response (answered, skipped or declined) and we are past the last one."""
        return self.index >= len(self.items) and all(i.id in self.responses for i in self.items)

    @property
    def current(self) -> Optional[Item]:
        return self.items[self.index] if self.index < len(self.items) else None

    @property
    def position(self) -> tuple[int, int]:
        """(1-based number of the current item, number of items)."""
        return min(self.index + 1, len(self.items)), len(self.items)

    @property
    def answered_count(self) -> int:
        return len(self.responses)

    def options(self, item: Optional[Item] = None) -> list[ResponseOption]:
        item = item or self.current
        return self.instrument.options_for(item) if item else []

    def stored(self, item: Optional[Item] = None) -> Optional[dict]:
        """The response already stored for an item (shown when going back), or None."""
        item = item or self.current
        return self.responses.get(item.id) if item else None

    def answers(self) -> dict[str, Optional[int]]:
        """Item id -> value as given; None for skipped, declined or not yet answered."""
        return {i.id: (self.responses.get(i.id) or {}).get("value") for i in self.items}

    # -- moving ------------------------------------------------------------------------------------

    def _require_current(self) -> Item:
        item = self.current
        if item is None:
            raise UsageError("every item has been answered")
        return item

    def answer(self, value: int) -> list[Flag]:
        """Store ``value`` for the current item (committed), move on; returns critical flags it raises."""
        item = self._require_current()
        allowed = [o.value for o in self.options(item)]
        if value not in allowed:
            raise UsageError(f"{value} is not an answer to this item (answers: {describe_values(allowed)})")
        self._store(item, value, "answered")
        return self.flags_for(item, value)

    def flags_for(self, item: Item, value: Optional[int]) -> list[Flag]:
        """The critical flags this one answer raises: the scorer's own rule, asked about this item alone."""
        return critical_flags(self.instrument, {item.id: value})

    def can_skip(self, item: Optional[Item] = None) -> tuple[bool, str]:
        """Whether the current item may be skipped, and why not.

        An optional (unscored) item may always be skipped. A scored item may be skipped only while every
        scale it belongs to would still be scorable under the instrument's published missing-item rule,
        counting the items already skipped or declined; an instrument whose rule allows no missing answer
        cannot be skipped through at all (the respondent may still decline an item, which is recorded).
        """
        item = item or self.current
        if item is None:
            return False, "every item has been answered"
        if item.optional:
            return True, ""
        missing = {k for k, r in self.responses.items() if r["status"] != "answered"} | {item.id}
        for scale in self.instrument.scales:
            groups = {g.id: g for g in scale.groups}
            members = set(scale.items) | {m for g in scale.groups for m in g.items}
            if item.id not in members:
                continue
            count = 0
            for ref in scale.items:
                parts = groups[ref].items if ref in groups else [ref]
                if all(p in missing for p in parts):
                    count += 1
            if count > scale.missing.max_missing:
                allowed = scale.missing.max_missing
                if allowed == 0:
                    return False, f"{self.instrument.short_name or self.instrument.id} allows no missing answers ({scale.name})"
                return False, (
                    f"{scale.name} allows at most {allowed} missing answer{'s' if allowed != 1 else ''} "
                    f"and {count - 1} {'is' if count - 1 == 1 else 'are'} already missing"
                )
        return True, ""

    def skip(self) -> None:
        item = self._require_current()
        ok, why = self.can_skip(item)
        if not ok:
            raise UsageError(f"this item cannot be skipped: {why}")
        self._store(item, None, "skipped")

    def decline(self) -> None:
        """The respondent declines to answer: recorded as declined (the scorer treats it as missing)."""
        item = self._require_current()
        self._store(item, None, "declined")

    def keep(self) -> None:
        """Keep the current item's saved answer (Enter after going back) and move on, as answering does."""
        item = self._require_current()
        if item.id not in self.responses:
            raise UsageError("this item has no saved answer to keep")
        self._advance()

    def back(self) -> bool:
        """Go to the previous item (its stored answer is kept until replaced). False at the first item."""
        if self.index == 0:
            return False
        self.index -= 1
        return True

    def _store(self, item: Item, value: Optional[int], status: str) -> None:
        # A critical answer, or a critical item skipped or declined, raises its alert with the answer, in the
        # same transaction: it reaches the record before the administration is complete.
        alerts = answer_alerts(self.instrument, item.id, value, status)
        self.store.record_response(self.id, item.id, value, status, alerts=alerts)  # committed before we move on
        self.responses[item.id] = {"item_id": item.id, "value": value, "status": status}
        self._advance()

    def _advance(self) -> None:
        self.index += 1
        # After going back and re-answering, continue at the next item still without an answer.
        if self.index < len(self.items) and self.items[self.index].id in self.responses:
            self.index = self._first_unanswered()


def describe_values(values: list[int]) -> str:
    values = sorted(values)
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ", ".join(str(v) for v in values)


# -- reading what a person types -------------------------------------------------------------------


@dataclass
class Command:
    """What one typed line means: ``kind`` is answer, keep, back, skip, decline, help, quit or invalid."""

    kind: str
    value: Optional[int] = None
    message: str = ""


HELP = (
    "Type the number of an answer (shown before each answer) and press Enter.\n"
    "  b  back to the previous item      s  skip this item (where the instrument allows it)\n"
    "  d  the client declines to answer  q  save and quit (resume later with the same command)\n"
    "  ?  this help"
)


def interpret(engine: Administration, line: str) -> Command:
    """Turn a typed line into a command. Never raises: bad input is an ``invalid`` command with a message."""
    text = line.strip()
    options = engine.options()
    allowed = [o.value for o in options]
    hint = f"type {describe_values(allowed)}, or b (back), s (skip), d (decline), ? (help), q (save and quit)"
    if not text:
        if engine.stored() is not None:  # back at an answered item: Enter keeps what was saved
            return Command("keep")
        return Command("invalid", message=f"No answer given: {hint}.")
    lowered = text.lower()
    words = {"b": "back", "back": "back", "s": "skip", "skip": "skip", "d": "decline", "decline": "decline",
             "?": "help", "h": "help", "help": "help", "q": "quit", "quit": "quit"}
    if lowered in words:
        return Command(words[lowered])
    try:
        value = int(text)
    except ValueError:
        matches = [o for o in options if o.label.lower() == lowered]
        if len(matches) == 1:
            return Command("answer", value=matches[0].value)
        return Command("invalid", message=f"{text!r} is not an answer: {hint}.")
    if value not in allowed:
        return Command("invalid", message=f"{value} is out of range: {hint}.")
    return Command("answer", value=value)


# -- driving an administration with a front end ---------------------------------------------------


class Frontend(Protocol):
    """What :func:`run` needs from a user interface."""

    def show_item(self, engine: Administration) -> None: ...
    def read(self) -> Optional[str]: ...  # one line, or None at end of input
    def say(self, message: str) -> None: ...
    def critical(self, flag: Flag) -> None: ...


@dataclass
class Outcome:
    """How :func:`run` ended: ``finished`` (every item has a response), ``quit`` or ``eof``."""

    status: str
    flags: list[Flag] = field(default_factory=list)


def run(engine: Administration, ui: Frontend) -> Outcome:
    """Ask items until every one has a response, the person quits, or input ends.

    Skipping or declining a critical item (e.g. PHQ-9 item 9) is asked once more before it is accepted:
    an unanswered risk item means risk unknown, and it raises a "risk item not answered" alert."""
    raised: list[Flag] = []
    while not engine.finished:
        if engine.current is None:  # went back and forward past answered items
            engine.index = engine._first_unanswered()
            continue
        ui.show_item(engine)
        pending: Optional[str] = None
        while True:
            line = pending if pending is not None else ui.read()
            pending = None
            if line is None:
                return Outcome("eof", raised)
            command = interpret(engine, line)
            if command.kind == "invalid":
                ui.say(command.message)
                continue
            if command.kind == "help":
                ui.say(HELP)
                continue
            if command.kind == "quit":
                return Outcome("quit", raised)
            if command.kind == "back":
                if not engine.back():
                    ui.say("This is the first item.")
                    continue
                break
            if command.kind == "skip":
                ok, why = engine.can_skip()
                if not ok:
                    ui.say(f"This item cannot be skipped: {why}. Answer it, or d if the client declines.")
                    continue
            if command.kind in ("skip", "decline") and is_critical_item(engine.instrument, engine.current.id):
                verb = "skip it" if command.kind == "skip" else "record it as declined"
                ui.say(f"This is a risk item: left unanswered, risk is unknown (an alert will ask you to ask "
                       f"directly). Type {line.strip()} again to {verb}, or give an answer.")
                again = ui.read()
                if again is None:
                    return Outcome("eof", raised)
                if interpret(engine, again).kind != command.kind:
                    pending = again  # an answer (or anything else): handled as this item's input
                    continue
            if command.kind == "skip":
                engine.skip()
                break
            if command.kind == "decline":
                engine.decline()
                break
            if command.kind == "keep":
                engine.keep()
                break
            flags = engine.answer(command.value)
            for flag in flags:
                ui.critical(flag)  # at once, before the next item
            raised.extend(flags)
            break
    return Outcome("finished", raised)

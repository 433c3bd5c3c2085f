"""Handing a client's forms to their own screen: one-time links, what the page shows next, and the clinician's watch.

A handover binds a random token (256 bits, shown once; only its SHA-256 is stored) to in-progress
administrations of one client's current session. Opening the link exchanges the token for a browser session
(also stored only as a hash), and from then on the page works through :func:`screen` and :func:`respond`,
which drive the same administration engine as ``ipt administer``: every answer is committed before the next
item is shown, skip and decline follow the instrument's missing-item rule, and the engine raises the alerts.
Nothing here returns a score, a band or an alert to the page. The web front end (``ipt_measures.web``) and
the ``ipt handover`` command call these functions; only ``store/`` speaks SQL.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

from .errors import UsageError

TOKEN_BYTES = 32  # 256 bits from the OS's CSPRNG: guessing is hopeless even without the rate limit
MAX_EXPIRY = timedelta(hours=12)


class Refused(UsageError):
    """A link or page session that cannot be used (unknown, finished, expired, opened elsewhere)."""


def new_secret() -> str:
    """A fresh random secret (a link token or a page session), URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, so a copy of the database opens no link."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``30m``, ``1h``, ``90s``, ``1h30m`` -> timedelta; between one minute and MAX_EXPIRY."""
    parts = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*", text or "")
    if not parts or not any(parts.groups()):
        raise UsageError(f"{text!r} is not a duration (e.g. 30m, 1h, 1h30m, 90s)")
    hours, minutes, seconds = (int(g or 0) for g in parts.groups())
    span = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not timedelta(minutes=1) <= span <= MAX_EXPIRY:
        raise UsageError(f"--expires must be between 1m and {int(MAX_EXPIRY.total_seconds() // 3600)}h (got {text})")
    return span


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_self_completable(instrument: Any, client_id: str = "CLIENT") -> None:
    """Refuse an instrument a client cannot complete on their own screen, saying what to do instead."""
    if instrument.respondent != "self-report":
        raise UsageError(f"{instrument.id} is clinician-rated: give it with ipt administer, not on the client's screen")
    if not all(item.text for item in instrument.items):
        raise UsageError(
            f"{instrument.id}: its item text is not shipped ({instrument.licence}), so it cannot be shown on a "
            f"screen: give it on paper and enter the answers with ipt administer {client_id} {instrument.id} --answers ..."
        )


def create(store, client_id: str, instruments: list[str], *, use_due: bool = False, expires: str = "30m",
           registry=None) -> tuple[str, dict]:
    """A one-time link for these forms in the client's current session: (token, handover).

    A named form that cannot go on the client's screen (text not shipped, clinician-rated) is refused, saying
    why; with ``use_due`` such a due form is left out instead and listed in the handover's ``on_paper`` with
    the reason, for the clinician to give another way. An interrupted administration of the same instrument in
    that session is continued rather than started again; a live earlier link to the same forms stops working.
    """
    from . import record

    span = parse_duration(expires)
    registry = record._registry(registry)
    store.get_client(client_id)
    from .ipt_record import personalise

    course_id = record.get_session(store, client_id)["course_id"]

    def check(instrument) -> None:
        # An individualised measure (the goals) is checked as the client will see it: in their own words.
        check_self_completable(personalise(store, instrument, course_id), client_id)

    chosen = [registry.instrument(i) for i in dict.fromkeys(instruments)]
    for instrument in chosen:
        check(instrument)
    on_paper = []
    if use_due:
        for instrument_id in record.due(store, client_id, registry=registry).to_give:
            instrument = registry.instrument(instrument_id)
            if instrument in chosen:
                continue
            try:
                check(instrument)
            except UsageError as why:
                on_paper.append({"instrument": instrument_id, "why": str(why)})
                continue
            chosen.append(instrument)
    if not chosen:
        if on_paper:
            raise UsageError("none of the forms due can go on the client's screen: " +
                             "; ".join(p["why"] for p in on_paper))
        raise UsageError(f"name the forms to hand over (e.g. ipt handover {client_id} phq9), or use --due")
    session = record.get_session(store, client_id)
    running = {a["instrument_id"]: a for a in record.unfinished(store, client_id)
               if a["session_number"] == session["number"]}
    admin_ids = []
    for instrument in chosen:
        if instrument.id in running and running[instrument.id]["instrument_version"] == instrument.version:
            admin_ids.append(running[instrument.id]["id"])
        else:
            admin_ids.append(record.begin(store, client_id, instrument.id, session["number"], registry, source="page").id)
    token = new_secret()
    expires_at = (_now() + span).isoformat(timespec="seconds")
    made = store.add_handover(client_id, digest(token), expires_at, admin_ids)
    made["on_paper"] = on_paper
    return token, made


def _expired(handover: dict) -> bool:
    return datetime.fromisoformat(handover["expires_at"]) <= _now()


def _live(store, handover: Optional[dict]) -> Optional[dict]:
    """The handover if it can still be used; an expired one is ended on the way."""
    if handover is None or handover["ended_at"]:
        return None
    if _expired(handover):
        store.end_handover(handover["id"], "expired")
        return None
    return handover


def open_link(store, token: str, page_session: str) -> dict:
    """Exchange a link's token for a page session: the first browser to open it keeps it."""
    handover = store.handover_by_token(digest(token))
    if handover is None:
        raise Refused("unknown link")
    if _live(store, handover) is None:
        raise Refused("this link has ended")
    if handover["session_hash"] is None:
        if not store.claim_handover(handover["id"], digest(page_session)):
            raise Refused("this link was opened on another device")
    elif not secrets.compare_digest(handover["session_hash"], digest(page_session)):
        raise Refused("this link was opened on another device")
    return store.get_handover(handover["id"])


def for_page(store, page_session: Optional[str]) -> Optional[dict]:
    """The live handover of a page session, or None (no session, ended, expired)."""
    if not page_session:
        return None
    return _live(store, store.handover_by_session(digest(page_session)))


# -- what the page shows, and what it sends back -------------------------------------------------------


@dataclass
class Screen:
    """One screen of the page: an item to answer, or ``done``. Holds no score, band, alert or identifier."""

    done: bool
    form: int = 0  # position of the current form in the handover
    item_id: str = ""
    form_name: str = ""
    instructions: Optional[str] = None
    recall_period: Optional[str] = None
    text: str = ""
    options: list[tuple[int, str]] = field(default_factory=list)
    number: int = 0
    total: int = 0
    chosen: Optional[int] = None  # the stored answer, when going back
    can_back: bool = False
    can_skip: bool = False


def _current(store, handover: dict, registry) -> tuple[int, Any]:
    """(position, engine at the item to show) of the first unfinished form; (-1, None) when all are done."""
    from . import record

    for position, admin_id in enumerate(handover["administrations"]):
        admin = store.get_administration(admin_id)
        if admin["status"] != "in-progress":
            continue  # complete, or abandoned by the clinician meanwhile
        engine = record.resume(store, admin_id, registry)
        if engine.finished:  # every answer stored but the score not yet (a crash between the two)
            record.complete(store, engine, registry)
            continue
        cursor = handover["cursor"]
        if cursor is not None and 0 <= cursor < engine.index:
            engine.index = cursor
        return position, engine
    return -1, None


def screen(store, handover: dict, registry=None) -> Screen:
    """What the page shows next; ends the handover once every form is finished."""
    from . import record

    registry = record._registry(registry)
    position, engine = _current(store, handover, registry)
    if engine is None:
        store.end_handover(handover["id"], "finished")
        return Screen(done=True)
    item = engine.current
    number, total = engine.position
    stored = engine.stored(item)
    inst = engine.instrument
    return Screen(
        done=False, form=position, item_id=item.id, form_name=inst.short_name or inst.name,
        instructions=inst.instructions, recall_period=inst.recall_period, text=item.display(),
        options=[(o.value, o.label) for o in engine.options(item)], number=number, total=total,
        chosen=stored["value"] if stored and stored["status"] == "answered" else None,
        can_back=engine.index > 0, can_skip=engine.can_skip(item)[0],
    )


def respond(store, handover: dict, *, form: int, item_id: str, action: str, value: Optional[int] = None,
            confirmed: bool = False, registry=None) -> str:
    """Apply one press on the page: ``answer`` (with ``value``), ``back``, ``skip`` or ``decline``.

    Returns ``"saved"``; ``"stale"`` when the press is not for the item on screen now (a second tap, a resent
    form, an old tab), which changes nothing; or ``"confirm"`` when a risk item is to be left unanswered
    without ``confirmed``: as at the terminal, that is asked once more before it is stored (and then raises
    the risk-item-unanswered alert). A finished form is scored at once; the last one ends the handover.
    """
    from . import record
    from .assess import is_critical_item

    registry = record._registry(registry)
    position, engine = _current(store, handover, registry)
    if engine is None or position != form or engine.current.id != item_id:
        return "stale"
    if action == "back":
        if engine.index == 0:
            return "stale"
        store.set_handover_cursor(handover["id"], engine.index - 1)
        return "saved"
    if action in ("skip", "decline") and not confirmed and is_critical_item(engine.instrument, item_id):
        return "confirm"
    if action == "answer":
        if value is None:
            raise UsageError("no answer given")
        engine.answer(value)
    elif action == "skip":
        engine.skip()
    elif action == "decline":
        engine.decline()
    else:
        raise UsageError(f"unknown action {action!r}")
    if handover["cursor"] is not None:
        store.set_handover_cursor(handover["id"], None)  # on to the first item still without an answer
    if engine.finished:
        record.complete(store, engine, registry)
        if _current(store, store.get_handover(handover["id"]), registry)[1] is None:
            store.end_handover(handover["id"], "finished")  # the link dies with the last answer
    return "saved"


# -- the clinician's watch ---------------------------------------------------------------------------


def progress(store, handover_id: int, registry=None) -> dict:
    """Where a handover stands, for the clinician: state and, per form, how many items have a response."""
    from . import record

    registry = record._registry(registry)
    handover = store.get_handover(handover_id)
    if not handover["ended_at"] and _expired(handover):
        store.end_handover(handover_id, "expired")
        handover = store.get_handover(handover_id)
    forms = []
    for admin_id in handover["administrations"]:
        admin = store.get_administration(admin_id)
        instrument = registry.instrument(admin["instrument_id"])
        forms.append({"instrument": instrument.id, "name": instrument.short_name or instrument.name,
                      "answered": len(store.responses(admin_id)), "items": len(instrument.items),
                      "status": admin["status"], "administration": admin_id})
    if handover["ended_at"]:
        state = handover["ended_reason"]
    else:
        state = "open" if handover["claimed_at"] else "waiting"
    return {"handover": handover_id, "client": handover["client_id"], "state": state,
            "expires_at": handover["expires_at"], "forms": forms}


def watch(store, handover_id: int, *, poll: float = 0.3, sleep=None, registry=None) -> Iterator[tuple[str, Any]]:
    """Follow a handover for the clinician, yielding ``("progress", text)``, ``("alert", alert dict)`` and
    finally ``("end", text)``: each item reached, every alert of the client the moment it is stored (from the
    alert store, so one raised by another front end shows too), until the forms are finished or the link ends."""
    import time

    sleep = sleep or time.sleep
    client_id = store.get_handover(handover_id)["client_id"]
    last_alert = max((a["id"] for a in store.alerts(client_id, include_acknowledged=True)), default=0)
    said: set[str] = set()
    while True:
        state = progress(store, handover_id, registry)
        lines = []
        if state["state"] != "waiting":
            lines.append("The link was opened.")
        for form in state["forms"]:
            if form["status"] == "complete":
                lines.append(f"{form['name']}: finished")
            elif form["status"] == "abandoned":
                lines.append(f"{form['name']}: abandoned")
            elif form["answered"] or state["state"] == "open":
                lines.append(f"{form['name']}: item {min(form['answered'] + 1, form['items'])} of {form['items']}")
                break  # the form on screen now; the later ones are not started
        fresh = store.alerts(client_id, include_acknowledged=True, after_id=last_alert)
        for alert in sorted(fresh, key=lambda a: a["id"]):  # alerts first: they matter more than progress
            last_alert = max(last_alert, alert["id"])
            yield "alert", alert
        for line in lines:
            if line not in said:
                said.add(line)
                yield "progress", line
        if state["state"] in ("finished", "expired", "replaced", "cancelled"):
            done = sum(f["answered"] for f in state["forms"])
            endings = {
                "finished": "All forms finished; see the scores with: ipt progress " + client_id,
                "expired": f"The link expired ({done} answer{'s' if done != 1 else ''} saved); hand the rest over "
                           f"again with ipt handover {client_id} ...",
                "replaced": "A newer link for these forms replaced this one.",
                "cancelled": "The link was cancelled.",
            }
            yield "end", endings[state["state"]]
            return
        sleep(poll)

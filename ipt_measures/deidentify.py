"""De-identification for exports: keyed pseudonyms, per-client date shifts, identifying fields dropped.

The key is a secret file the user keeps (32 random bytes, hex, readable by its owner only). With the same
key the same client always gets the same pseudonym and the same date shift, so exports made months apart
can be linked by whoever holds the key, and by nobody else:

- pseudonym = ``"p-"`` + the first 20 hex digits (80 bits) of HMAC-SHA256(key, ``"client:" + id``);
  a keyed hash, not a plain hash, because clinic ids are guessable ("c001", "c002", ...) and a plain hash
  of a guessable id is reversed by trying them all;
- date shift = a whole number of days in -365..-1 or 1..365 from HMAC-SHA256(key, ``"date-shift:" + id``),
  the same for every date of that client, so intervals within a course are kept exactly;
- display name, birth year and free-text fields (a course's end reason) are dropped;
- an administration's internal id becomes HMAC(key, ``"administration:" + id``), so the order in which
  records were entered across clients (which a date shift is meant to hide) does not show through;
  an alert's id likewise;
- amendments keep what changed and when (shifted), not who made them or why (free text); alerts keep
  their kind, message, action and times (shifted), not who acknowledged them or the note.

Standard library only: this module is imported by the export command.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from .errors import UsageError

KEY_BYTES = 32
MAX_SHIFT_DAYS = 365
PSEUDONYM_PREFIX = "p-"
PSEUDONYM_HEX = 20


def create_key_file(path: str | Path) -> bytes:
    """Write a new random key to ``path`` (owner read/write only); refuse to overwrite an existing one."""
    path = Path(path)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise UsageError(f"the key file {path} already exists; it was not overwritten") from None
    except OSError as exc:
        raise UsageError(f"cannot create the key file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def read_key_file(path: str | Path) -> bytes:
    """Read a key written by :func:`create_key_file`; refuse one that others can read."""
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text().strip()
    except FileNotFoundError:
        raise UsageError(f"no key file at {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    if os.name == "posix" and mode & 0o077:
        raise UsageError(f"the key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"the key file {path} is not a hex key written by ipt export --deidentify") from None
    if len(key) < 16:
        raise UsageError(f"the key in {path} is too short ({len(key)} bytes; at least 16)")
    return key


def load_or_create_key(path: str | Path) -> tuple[bytes, bool]:
    """The key in ``path``, creating the file first if it does not exist. Returns (key, created)."""
    if Path(path).exists():
        return read_key_file(path), False
    return create_key_file(path), True


@dataclass(frozen=True)
class Deidentifier:
    """Turns export records into de-identified ones with one secret key."""

    key: bytes = field(repr=False)  # the secret: never in a repr, a log line or a traceback's locals
    shift_dates: bool = False
    # The last client's (id, pseudonym, date shift): an export's records come grouped by client, so each
    # client's two keyed hashes are worked out once, not once per administration.
    _last: list = field(default_factory=lambda: [None, "", 0], init=False, repr=False, compare=False)

    @classmethod
    def from_key_file(cls, path: str | Path, *, shift_dates: bool = False, create: bool = True) -> "Deidentifier":
        key = load_or_create_key(path)[0] if create else read_key_file(path)
        return cls(key, shift_dates)

    def _mac(self, label: str, value: str) -> bytes:
        return hmac.new(self.key, f"{label}:{value}".encode(), hashlib.sha256).digest()

    def pseudonym(self, client_id: str) -> str:
        return PSEUDONYM_PREFIX + self._mac("client", client_id).hex()[:PSEUDONYM_HEX]

    def administration_ref(self, administration_id: Any) -> str:
        return self._mac("administration", str(administration_id)).hex()[:16]

    def shift_days(self, client_id: str) -> int:
        """Days added to every date of this client: never 0, at most a year either way."""
        n = int.from_bytes(self._mac("date-shift", client_id)[:4], "big") % (2 * MAX_SHIFT_DAYS)
        return n - MAX_SHIFT_DAYS if n < MAX_SHIFT_DAYS else n - MAX_SHIFT_DAYS + 1

    def record(self, record: dict) -> dict:
        """A de-identified copy of one export record (see :mod:`ipt_measures.exchange.exporting`)."""
        client_id = record["client"]["id"]
        last = self._last
        if last[0] != client_id:
            last[:] = [client_id, self.pseudonym(client_id), self.shift_days(client_id) if self.shift_dates else 0]
        _, pseudonym, days = last
        course = dict(record["course"])
        course.pop("end_reason", None)
        session = dict(record["session"])
        admin = dict(record["administration"])
        admin["id"] = self.administration_ref(admin["id"])
        if days:
            for holder, fields in ((course, ("start_date", "end_date")), (session, ("date",)),
                                   (admin, ("started_at", "finished_at"))):
                for name in fields:
                    holder[name] = shift(holder.get(name), days)
        out = dict(record)
        if "amendments" in record:
            out["amendments"] = [self._amendment(a, days) for a in record["amendments"]]
        if "alerts" in record:
            out["alerts"] = [self._alert(a, pseudonym, days) for a in record["alerts"]]
        out["client"] = {"id": pseudonym}
        out["course"] = course
        out["session"] = session
        out["administration"] = admin
        out["deidentified"] = True
        return out

    def _amendment(self, amendment: dict, days: int) -> dict:
        """An amendment without who made it or the free-text reason; its time (and a session date it
        changed) shifted like every other date of the client."""
        out = dict(amendment, actor=REDACTED, reason=None, at=shift(amendment["at"], days))
        if days and amendment.get("field") == "date":
            out["old"], out["new"] = shift(amendment.get("old"), days), shift(amendment.get("new"), days)
        return out

    def _alert(self, alert: dict, pseudonym: str, days: int) -> dict:
        """An alert with keyed ids, no acknowledger's name and no free-text note; its times shifted."""
        out = dict(alert, id=self.administration_ref(f"alert:{alert['id']}"), client_id=pseudonym,
                   course_id=None, acknowledged_by=None, note=None)
        if alert.get("administration_id") is not None:
            out["administration_id"] = self.administration_ref(alert["administration_id"])
        for name in ("raised_at", "acknowledged_at"):
            out[name] = shift(alert.get(name), days)
        return out


REDACTED = "redacted"


def shift(value: Optional[str], days: int) -> Optional[str]:
    """Shift an ISO date or date-time string by whole days, keeping its form (and time zone)."""
    if not value:
        return value
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        if len(text) == 10:
            return (date.fromisoformat(text) + timedelta(days=days)).isoformat()
        moved = datetime.fromisoformat(text) + timedelta(days=days)
    except ValueError:
        raise UsageError(f"cannot shift the date {value!r}: not an ISO date") from None
    except OverflowError:  # a date near year 1 or 9999, stored before domain.py refused implausible dates
        raise UsageError(f"cannot shift the date {value!r}: it is not a plausible date (correct it first:"
                         " ipt session amend / ipt course)") from None
    result = moved.isoformat()
    return result[:-6] + "Z" if value.endswith("Z") and result.endswith("+00:00") else result

"""Error types the CLI turns into one-line messages and non-zero exit codes."""

from __future__ import annotations


class IptError(Exception):
    """Base for every error meant for the user: its message is shown as one line."""

    exit_code = 1


class UsageError(IptError):
    """The command was given something it cannot use."""

    exit_code = 2


class InvalidValue(UsageError, ValueError):
    """A value outside the IPT vocabulary or rules (domain.py): a client id, phase, problem area, date."""


class UnknownInstrument(UsageError):
    """No registered instrument has that id."""


class InvalidAnswers(UsageError):
    """Answers that do not fit the instrument (count, range, type)."""


class InstrumentDefinitionError(IptError):
    """A declarative file or plugin definition is invalid; the message names the path in the file."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class PluginError(IptError):
    """A plugin could not be loaded or registered something invalid."""


class NotFound(IptError):
    """A client, course, session or record that does not exist."""


class StoreError(IptError):
    """The record store cannot be opened or written (read-only file, full disk, newer schema...)."""

    exit_code = 3

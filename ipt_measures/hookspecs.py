"""Hook specifications: the plugin author's manual. Every hook a plugin can implement is defined here.

Plugins write ``from ipt_measures import hookimpl`` and implement any of these functions at module level
(or as methods of a registered object). Call sites always pass keyword arguments, and an implementation
may accept fewer arguments than the spec lists, so hooks can gain arguments without breaking plugins.

Every hook is called once per process, when it is first needed, except ``score_instrument`` and
``alerts_after_score``, which run for every score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:  # pragma: no cover - for annotations only, keeps start-up light
    import click

    from .models import Instrument, Score

hookspec = HookspecMarker("ipt_measures")
hookimpl = HookimplMarker("ipt_measures")


# -- what a plugin adds --------------------------------------------------------------------------


@hookspec
def register_instruments(register: Callable[[Any], None]) -> None:
    """Add instruments.

    Call ``register(definition)`` once per instrument. ``definition`` is an :class:`~ipt_measures.models.Instrument`,
    a ``dict`` of the same shape, or a :class:`pathlib.Path` to a declarative TOML or JSON file (loaded lazily,
    so plugin modules stay cheap to import). Each registration is validated where it arrives: an invalid
    definition, or an id that another plugin already registered, is refused, reported by ``ipt plugins``
    with this plugin's name, and skipped; the rest of the plugin's registrations still count. A duplicate
    id is never renamed: a silently swapped instrument is a wrong clinical score. Once validated, the registry
    keeps each instrument in its plain runtime form (:class:`ipt_measures.plain.Instrument`: the same attributes,
    ``model_dump`` and ``model_copy`` as the pydantic model, without pydantic at run time), and a file's
    validated form is cached, keyed by its exact bytes, so it is validated again only when it changes.

    :param register: callback taking one instrument definition.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_protocols(register: Callable[[Any], None]) -> None:
    """Add measurement protocols: which instruments are due at which sessions of a course.

    Call ``register(protocol)`` with a :class:`~ipt_measures.models.Protocol`, a dict of the same shape, or a
    :class:`pathlib.Path` to a TOML or JSON file (``schemas/protocol.schema.json``).
    Protocol ids must be unique across plugins, as instrument ids are.

    :param register: callback taking one protocol.
    :returns: nothing.
    """


@hookspec
def register_exporters(register: Callable[..., None]) -> None:
    """Add export formats for ``ipt export --format NAME``.

    Call ``register(name, writer, description="...", suffix=".csv")``. ``writer`` is called as
    ``writer(rows, out, **options)`` where ``rows`` is an iterator of export records (see
    :mod:`ipt_measures.exchange.exporting`) and ``out`` a text stream; it must stream (never hold every row).
    Format names are unique across plugins.

    :param register: callback ``register(name, writer, description="", suffix="")``.
    :returns: nothing.
    """


@hookspec
def register_importers(register: Callable[..., None]) -> None:
    """Add import formats for ``ipt import --format NAME``.

    Call ``register(name, reader, description="...", suffixes=(".xml",))``. ``reader`` is called as
    ``reader(path, update)`` and yields, per administration in file order, either a record (the shape
    ``store.bulk_import`` takes, without the score; see :mod:`ipt_measures.exchange.records`) or a list of
    :class:`ipt_measures.exchange.Rejection` (where, why). ``update(n)``, when not None, is told each ``n``
    bytes read (a progress bar). The import then checks every field of every record, rescores it, checks
    it against the stored record (courses, sessions, earlier imports) and stores it exactly as it does a
    built-in format's: a plugin reader parses, it never stores. ``suffixes`` let ``ipt import`` guess the
    format from a file name. Format names are unique across plugins.

    :param register: callback ``register(name, reader, description="", suffixes=())``.
    :returns: nothing.
    """


@hookspec
def register_commands(cli: "click.Group") -> None:
    """Add commands to the ``ipt`` command line.

    Called when the command line is built. Add with ``@cli.command()`` or ``cli.add_command(...)``.
    Keep the module's top-level imports light: this hook runs for ``ipt --help`` too.

    :param cli: the top-level Click group.
    :returns: nothing.
    """


# -- what a plugin decides -----------------------------------------------------------------------


@hookspec(firstresult=True)
def score_instrument(instrument: "Instrument", answers: dict[str, Optional[int]]) -> Optional["Score"]:
    """Score one administration, overriding the generic scorer for an instrument with a special rule.

    Return a :class:`~ipt_measures.models.Score` for instruments this plugin scores, ``None`` for every
    other instrument. The generic declarative scorer is registered ``trylast`` and answers otherwise.
    Answers have already been checked against the instrument's options. Set ``Score.scorer`` to
    ``"<plugin>/<version>"``: it is stored with the score.

    Stops at first non-None result, see firstresult.

    :param instrument: the instrument definition.
    :param answers: item id -> value as given, ``None`` for a skipped or declined item.
    :returns: a Score, or None to let the next scorer answer.
    """


@hookspec
def alerts_after_score(instrument: "Instrument", score: "Score", previous: list["Score"]) -> Optional[list[dict]]:
    """Raise alerts after a score is computed (beyond the critical items, which are always on the score).

    Called after every administration is scored, in every front end (through ``assess``). Return a list of
    alerts, each a dict ``{"kind": str, "severity": "critical" | "warning" | "info", "message": str}``, or
    None; an alert may also name ``item_id`` (the item that raised it) and ``rule`` (which rule). Each is
    stored with the score, open until a clinician acknowledges it (``ipt alerts``); the same kind (and rule)
    is not raised twice on one administration. An alert without a kind and a message, or with another
    severity, is reported and skipped.
    Alerts from every plugin are collected; a plugin that raises is reported and skipped, never silencing
    the others.

    :param instrument: the instrument definition.
    :param score: the new score.
    :param previous: earlier scores of the same instrument in the same course, oldest first (may be empty).
    :returns: a list of alert dicts, or None.
    """


@hookspec
def programme_outcome(course: dict, scores: dict[str, list[tuple[int, float]]]) -> Optional[dict]:
    """A programme's outcome of a course (e.g. the NHS Talking Therapies paired outcome: recovery, reliable
    improvement), shown by ``ipt progress`` and the report beside each measure's change from baseline.

    Called once per course reviewed, for every plugin; each answers for its own programme. The core names no
    instrument: the plugin picks the measures it needs from ``scores`` and pairs them by its programme's rules.
    A plugin that raises, or returns something malformed, is reported (``ipt plugins``) and skipped.

    :param course: the course reviewed: ``id``, ``client_id``, ``course_type``, ``planned_sessions``,
        ``problem_areas``, ``start_date``, ``end_date``.
    :param scores: instrument id -> ``[(session number, total), ...]`` in session order: each session's scored
        primary total (the later administration when a measure was given twice in one session).
    :returns: None when the programme does not apply to the course, else a dict with ``id`` (unique across
        plugins), ``name``, ``assessable`` (bool), ``facts`` (a list of ``{"key", "label", "value"}``, each value a
        bool, number, text or None), ``note`` (text or None: e.g. why it is not assessable) and ``source`` (the
        citation of the rules); optionally ``sessions`` (the sessions compared) and ``data`` (anything else).
    """

"""Protocols: phase rule, mid session, due and overdue, and the shipped ipt-default protocol.

Expected values are worked by hand from the rules in the README (Measurement protocols): initial = sessions 1-3,
termination = the last 3 planned sessions (Weissman, Markowitz & Klerman 2000: initial phase "usually 1-3
sessions", termination discussed "at least two to four sessions" before the end), mid = ceil(planned / 2).
"""

import pytest

from ipt_measures.models import Protocol
from ipt_measures.plugins import build_registry
from ipt_measures.protocols import derive_phase, due_at, mid_session


@pytest.mark.parametrize(
    "planned, initial, middle, termination",
    [
        (16, [1, 2, 3], list(range(4, 14)), [14, 15, 16]),
        (12, [1, 2, 3], [4, 5, 6, 7, 8, 9], [10, 11, 12]),
        (13, [1, 2, 3], list(range(4, 11)), [11, 12, 13]),
    ],
)
def test_phase_from_session_number(planned, initial, middle, termination):
    phases = {n: derive_phase(n, planned) for n in range(1, planned + 1)}
    assert [n for n, p in phases.items() if p == "initial"] == initial
    assert [n for n, p in phases.items() if p == "middle"] == middle
    assert [n for n, p in phases.items() if p == "termination"] == termination
    assert derive_phase(planned + 1, planned) == "termination"  # an extra session is still termination


@pytest.mark.parametrize("planned, mid", [(16, 8), (15, 8), (14, 7), (13, 7), (12, 6)])
def test_mid_session_is_half_rounded_up(planned, mid):
    assert mid_session(planned) == mid


PROTOCOL = Protocol.model_validate({
    "id": "test-protocol",
    "name": "test",
    "rules": [
        {"instruments": ["sym"], "when": ["every"], "why": "symptoms"},
        {"instruments": ["sup"], "when": ["first", "mid", "last"], "why": "support"},
        {"instruments": ["gri"], "when": ["first", "last"], "problem_areas": ["grief"], "why": "grief"},
        {"instruments": ["extra"], "when": [4], "why": "a fixed session"},
    ],
})


def names(report, kind=None):
    return [i.instrument for i in report.items if kind is None or i.kind == kind]


def test_due_at_first_mid_last_and_ordinary_sessions():
    grief = dict(planned=16, problem_areas=["grief"], given={})
    assert names(due_at(PROTOCOL, session=1, **grief)) == ["sym", "sup", "gri"]
    assert names(due_at(PROTOCOL, session=2, **grief), "due") == ["sym"]
    assert names(due_at(PROTOCOL, session=4, **grief), "due") == ["sym", "extra"]
    done = dict(planned=16, problem_areas=["grief"], given={"sup": [1], "gri": [1]})
    assert names(due_at(PROTOCOL, session=2, **done)) == ["sym"]
    # Without grief the grief rule never applies, not even as overdue.
    others = due_at(PROTOCOL, planned=16, problem_areas=["role-disputes"], session=16, given={"sup": [1, 8]})
    assert names(others) == ["sym", "sup", "extra"]


def test_missed_scheduled_measure_is_overdue_until_given():
    given = {"sym": [1, 2, 3], "gri": [1], "extra": [4]}  # "sup" was never given
    report = due_at(PROTOCOL, planned=16, problem_areas=["grief"], session=5, given=given)
    assert names(report, "due") == ["sym"]
    assert [(i.instrument, i.scheduled) for i in report.items if i.kind == "overdue"] == [("sup", 1)]
    # Given at session 5 it is shown as done there, then no longer overdue at session 6.
    given["sup"] = [5]
    at5 = due_at(PROTOCOL, planned=16, problem_areas=["grief"], session=5, given=given)
    assert [(i.instrument, i.state) for i in at5.items if i.kind == "overdue"] == [("sup", "done")]
    assert names(due_at(PROTOCOL, planned=16, problem_areas=["grief"], session=6, given=given)) == ["sym"]


def test_weekly_measure_missed_is_not_overdue():
    report = due_at(PROTOCOL, planned=12, problem_areas=["grief"], session=3, given={"sup": [1], "gri": [1]})
    assert names(report) == ["sym"]  # "sym" was missed at 1 and 2: this week's replaces them


def test_due_and_overdue_at_once_is_listed_once_as_due():
    report = due_at(PROTOCOL, planned=12, problem_areas=["grief"], session=6, given={"sym": [1, 2, 3, 4, 5], "extra": [4], "gri": [1]})
    sup = [i for i in report.items if i.instrument == "sup"]
    assert len(sup) == 1 and sup[0].kind == "due" and "overdue since session 1" in sup[0].note


def test_unregistered_instrument_is_unavailable_not_an_error():
    report = due_at(PROTOCOL, planned=16, problem_areas=["grief"], session=1, given={}, available=["sym", "sup"])
    assert report.unavailable == ["gri"]
    assert report.to_give == ["sym", "sup"]


def test_in_progress_and_done_states():
    report = due_at(PROTOCOL, planned=16, problem_areas=[], session=1, given={"sym": [1]}, in_progress=["sup"])
    assert [(i.instrument, i.state) for i in report.items] == [("sym", "done"), ("sup", "in progress")]
    assert report.to_give == ["sup"]


def test_no_protocol_means_nothing_due():
    assert due_at(None, planned=12, problem_areas=["grief"], session=1, given={}).items == []


def test_protocols_from_plugins_default_and_clinic():
    """The shipped ipt-default protocol arrives through register_protocols, and a plugin can add its own."""

    class ClinicProtocol:
        __name__ = "clinic_protocol"

        @staticmethod
        def register_protocols(register):
            register({"id": "clinic", "name": "Clinic", "rules": [{"instruments": ["phq9"], "when": ["every"]}]})
            register({"id": "ipt-default", "name": "dup", "rules": [{"instruments": ["phq9"], "when": ["every"]}]})
            register({"id": "broken", "name": "bad", "rules": [{"instruments": ["phq9"], "when": ["sometimes"]}]})

    from ipt_measures import hookimpl

    ClinicProtocol.register_protocols = staticmethod(hookimpl(ClinicProtocol.register_protocols))
    registry = build_registry(ClinicProtocol())
    assert registry.protocol_plugin["ipt-default"] == "ipt-protocol"
    assert "clinic" in registry.protocols and "broken" not in registry.protocols
    errors = " ".join(e for _, e in registry.errors)
    assert "duplicate protocol id 'ipt-default'" in errors and "invalid protocol" in errors


def test_default_protocol_battery():
    """README, Measurement protocols: PHQ-9 + GAD-7 every session; MSPSS + WSAS first/mid/last; ICG then too for
    grief; the goals (GBO) every session."""
    default = build_registry().protocols["ipt-default"]
    grief = dict(planned=16, problem_areas=["grief"], given={})
    assert names(due_at(default, session=1, **grief)) == ["phq9", "gad7", "mspss", "wsas", "icg", "gbo"]
    after_first = dict(planned=16, problem_areas=["grief"], given={"mspss": [1], "wsas": [1], "icg": [1]})
    assert names(due_at(default, session=2, **after_first)) == ["phq9", "gad7", "gbo"]
    assert names(due_at(default, session=16, **grief), "due") == ["phq9", "gad7", "mspss", "wsas", "icg", "gbo"]
    dispute = dict(planned=12, problem_areas=["role-disputes"], given={"mspss": [1], "wsas": [1]})
    assert names(due_at(default, session=6, **dispute)) == ["phq9", "gad7", "mspss", "wsas", "gbo"]  # 6 = mid of 12


def test_clinic_protocol_example_in_the_docs_is_valid():
    from conftest import readme_section

    text = readme_section("Measurement protocols")
    [code] = __import__("re").findall(r"```python\n(.*?)```", text, __import__("re").S)
    namespace: dict = {}
    exec(code, namespace)
    got = []
    namespace["register_protocols"](got.append)
    protocol = Protocol.model_validate(got[0])
    report = due_at(protocol, planned=12, problem_areas=["grief"], session=12, given={})
    assert [i.instrument for i in report.items if i.kind == "due"] == ["phq9", "who5", "ucla3", "pcl5"]

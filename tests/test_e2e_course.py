"""End to end: a synthetic client's full 16-session IPT course through the real command line.

Course start (grief), then each session: `ipt session start`, `ipt due`, `ipt administer --due` with typed
answers; a critical PHQ-9 item at session 3; an amendment at session 5; then what is stored, the audit
trail, and what `ipt due` said at sessions 1, 8 and 16. Uses the shipped ipt-default protocol (README: Measurement protocols):
PHQ-9 and GAD-7 every session; MSPSS and WSAS at the first (1), mid (ceil(16/2) = 8) and last (16) session;
ICG at those sessions because the problem area is grief.

PHQ-9 totals below are summed by hand (Kroenke, Spitzer & Williams 2001: items 1-9, 0-3 each; bands 0-4
minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe). GAD-7: seven 1s = 7, mild (Spitzer et al.
2006: 5-9 mild). Change 17 -> 1 is a reliable improvement (>= 6 points) crossing caseness (10) on PHQ-9:
"recovered" (NHS Talking Therapies Manual v6, 2023; Jacobson & Truax 1991).
"""

import json
from datetime import date, timedelta

import pytest

from ipt_measures.plugins import get_registry

# Every test here records a whole course: each runs on both engines.
pytestmark = pytest.mark.usefixtures("engine")

PHQ9 = {  # session -> items 1-9; the hand-summed total beside each
    1: [3, 3, 2, 2, 2, 2, 2, 1, 0],   # 17
    2: [3, 2, 2, 2, 2, 2, 2, 1, 0],   # 16
    3: [3, 2, 2, 2, 2, 2, 1, 1, 1],   # 16, item 9 = 1: critical
    4: [2, 2, 2, 2, 2, 2, 1, 1, 0],   # 14
    5: [2, 2, 2, 2, 2, 1, 1, 1, 0],   # 13; item 1 amended 2 -> 1 gives 12
    6: [2, 2, 2, 1, 1, 1, 1, 1, 0],   # 11
    7: [2, 2, 1, 1, 1, 1, 1, 1, 0],   # 10
    8: [2, 1, 1, 1, 1, 1, 1, 1, 0],   # 9
    9: [1, 1, 1, 1, 1, 1, 1, 1, 0],   # 8
    10: [1, 1, 1, 1, 1, 1, 1, 0, 0],  # 7
    11: [1, 1, 1, 1, 1, 1, 0, 0, 0],  # 6
    12: [1, 1, 1, 1, 1, 0, 0, 0, 0],  # 5
    13: [1, 1, 1, 1, 0, 0, 0, 0, 0],  # 4
    14: [1, 1, 1, 0, 0, 0, 0, 0, 0],  # 3
    15: [1, 1, 0, 0, 0, 0, 0, 0, 0],  # 2
    16: [1, 0, 0, 0, 0, 0, 0, 0, 0],  # 1
}
PHQ9_TOTALS = {1: 17, 2: 16, 3: 16, 4: 14, 5: 12, 6: 11, 7: 10, 8: 9, 9: 8, 10: 7, 11: 6, 12: 5, 13: 4,
               14: 3, 15: 2, 16: 1}  # session 5 after the amendment
FULL = ["phq9", "gad7", "mspss", "wsas", "icg"]
WEEKLY = ["phq9", "gad7"]


def typed_answers(instrument_id, session):
    """What the client types for one instrument: PHQ-9 from the table (difficulty item: 1), GAD-7 all 1s
    (difficulty item skipped), any other measure its lowest answer on every scored item, optional ones skipped."""
    instrument = get_registry().instrument(instrument_id)
    if instrument_id == "phq9":
        return [str(v) for v in PHQ9[session]] + ["1"]
    out = []
    for item in instrument.items:
        if item.optional:
            out.append("s")
        elif instrument_id == "gad7":
            out.append("1")
        else:
            out.append(str(min(o.value for o in instrument.options_for(item))))
    return out


@pytest.fixture
def registered():
    missing = [i for i in FULL if i not in get_registry().instruments]
    if missing:
        pytest.fail(f"the default protocol's instruments are not all registered: {missing}")


def test_full_sixteen_session_course(invoke, registered):
    assert invoke("clients", "add", "e2e-01").exit_code == 0
    started = invoke("course", "start", "e2e-01", "--problem-area", "grief", "--sessions", "16", "--start", "2026-01-05")
    assert started.exit_code == 0 and "protocol ipt-default" in started.output

    due_said = {}
    for n in range(1, 17):
        day = (date(2026, 1, 5) + timedelta(weeks=n - 1)).isoformat()
        s = invoke("session", "start", "e2e-01", "--date", day)
        assert s.exit_code == 0 and f"Session {n} of e2e-01 on {day}" in s.output
        report = json.loads(invoke("due", "e2e-01", "--json").stdout)
        due_said[n] = report
        expected = FULL if n in (1, 8, 16) else WEEKLY
        assert report["to_give"] == expected, (n, report)
        assert report["unavailable"] == []
        typed = [a for instrument in expected for a in typed_answers(instrument, n)]
        result = invoke("administer", "e2e-01", "--due", input="\n".join(typed) + "\n")
        assert result.exit_code == 0, (n, result.output[-2000:])
        out = result.stdout
        assert out.count("complete and saved") == len(expected)
        total = PHQ9_TOTALS[n] if n != 5 else 13
        assert f"Total: {total:g}," in out
        assert "Total: 7, mild" in out  # GAD-7
        if n == 3:
            warning = "!!! CRITICAL: Thoughts of being better off dead or of self-harm endorsed (PHQ-9 item 9)"
            assert out.index(warning) < out.index("Item 10 of 10")  # at once, before the next item
            assert "(item 9: Several days)" in out and warning in result.stderr
        else:
            assert "!!!" not in out
        if n > 1:
            assert "Change since session 1 (first phq9 of this course): 17 ->" in out
        if n == 5:
            amended = invoke("amend", "e2e-01", "phq9", "--session", "5", "--item", "1", "--value", "1",
                             "--reason", "client corrected item 1 after reading it again")
            assert amended.exit_code == 0 and "Total: 12, moderate" in amended.stdout
        # Nothing left due once given.
        assert json.loads(invoke("due", "e2e-01", "--json").stdout)["to_give"] == []

    # What `ipt due` said at sessions 1, 8 and 16.
    for n, label in ((1, "first session"), (8, "mid-course"), (16, "last session")):
        said = due_said[n]
        assert said["session"] == n and said["planned"] == 16
        assert [i["instrument"] for i in said["items"]] == FULL + ["gbo"]
        assert all(i["kind"] == "due" and i["state"] == "to do" for i in said["items"] if i["instrument"] != "gbo")
        # No goals were agreed in this course: the goals measure is listed, not given.
        assert said["items"][-1]["state"] == "not set up" and "ipt goals e2e-01 add" in said["items"][-1]["note"]
        assert label in next(i for i in said["items"] if i["instrument"] == "mspss")["why"]
    assert due_said[1]["phase"] == "initial" and due_said[8]["phase"] == "middle"
    assert due_said[16]["phase"] == "termination"

    # What is stored.
    sessions = json.loads(invoke("session", "list", "e2e-01", "--json").stdout)
    assert [s["number"] for s in sessions] == list(range(1, 17))
    assert [s["phase"] for s in sessions] == ["initial"] * 3 + ["middle"] * 10 + ["termination"] * 3
    given = {}
    for s in sessions:
        for m in s["measures"]:
            name, total = m.split(" ", 1)
            given.setdefault(name, {})[s["number"]] = total
    assert {k: len(v) for k, v in given.items()} == {"phq9": 16, "gad7": 16, "mspss": 3, "wsas": 3, "icg": 3}
    assert sorted(given["icg"]) == [1, 8, 16]
    assert {n: int(float(t)) for n, t in given["phq9"].items()} == PHQ9_TOTALS

    summary = json.loads(invoke("clients", "show", "e2e-01", "--json").stdout)
    phq9 = next(m for m in summary["measures"] if m["instrument"] == "phq9")
    assert (phq9["first"], phq9["latest"], phq9["change"], phq9["category"]) == (17, 1, -16, "recovered")
    assert [(c["session"], c["item"], c["value"]) for c in summary["critical"]] == [(3, "9", 1)]
    screen = invoke("clients", "show", "e2e-01").stdout
    assert "Sessions held: 16 of 16" in screen and "!!! CRITICAL at session 3" in screen

    # The audit trail: every administration, the amendment with old and new, and the rescoring.
    trail = json.loads(invoke("audit", "e2e-01", "--json").stdout)
    actions = [a["action"] for a in trail]
    assert actions.count("session added") == 16
    assert actions.count("administration completed") == 16 + 16 + 3 + 3 + 3
    [amendment] = [a for a in trail if a["action"] == "amendment"]
    assert (amendment["field"], amendment["old_value"], amendment["new_value"]) == ("item 1", "2", "1")
    assert amendment["reason"] == "client corrected item 1 after reading it again" and amendment["actor"]
    [rescored] = [a for a in trail if a["action"] == "score recomputed"]
    assert (float(rescored["old_value"]), float(rescored["new_value"])) == (13, 12)

    ended = invoke("course", "end", "e2e-01", "--reason", "completed", "--date", "2026-04-20")
    assert ended.exit_code == 0

"""End to end through the real command line: IPT's own terms across whole courses (issue 14, "Done means").

A 16-session standard course: three goals agreed at session 1 and rated at every session inside
`ipt administer --due`; the interpersonal inventory taken at session 2 and re-rated at session 16; PHQ-9 worse
at session 10 than at baseline, so the mid-course review alert is raised there and acknowledged; warning
signs and plan at the end; then progress, the summary and the termination report. Then an 8-session brief
course and a monthly maintenance course through `due`, `progress` and the report.

PHQ-9 totals are summed by hand (items 1-9, 0-3 each; Kroenke et al. 2001 bands: 15-19 moderately severe,
20-27 severe). Reliable change on PHQ-9 is 6 points (NHS Talking Therapies Manual v6, 2023): 15 -> 20 at
session 10 is neither a reliable improvement nor a reliable deterioration, so the review alert is the only one.
"""

import json
from datetime import date, timedelta

import pytest

from ipt_measures.plugins import get_registry

# Every test here records a whole course: each runs on both engines.
pytestmark = pytest.mark.usefixtures("engine")

CLIENT = "e2e-ipt"
PHQ9_TOTALS = {1: 15, 2: 16, 3: 17, 4: 15, 5: 16, 6: 17, 7: 18, 8: 18, 9: 19, 10: 20, 11: 16, 12: 12, 13: 9,
               14: 7, 15: 5, 16: 4}
GOALS = [
    ("Talk with my partner about money without a row", "role-disputes"),
    ("Say no to extra shifts at work", "role-disputes"),
    ("Settle into the new town: one new contact a week", "role-transitions"),
]


def phq9_items(total):
    """Items 1-8 carrying ``total`` (at most 3 each), item 9 (self-harm) always 0."""
    items = []
    left = total
    for _ in range(8):
        items.append(min(3, left))
        left -= items[-1]
    assert left == 0 and sum(items) == total
    return items + [0]


def goal_rating(goal, session):
    return min(10, 1 + goal + session // 2)


def typed(instrument_id, session):
    """What is typed for one measure at one session: every scored item answered, optional ones skipped."""
    inst = get_registry().instrument(instrument_id)
    if instrument_id == "phq9":
        return [str(v) for v in phq9_items(PHQ9_TOTALS[session])] + ["s"]
    if instrument_id == "gbo":
        return [str(goal_rating(n, session)) for n in (1, 2, 3)]
    values = {"gad7": "1", "mspss": "4", "wsas": "3"}
    return ["s" if item.optional else values[instrument_id] for item in inst.items]


def ok(result):
    assert result.exit_code == 0, result.output[-3000:]
    return result


def test_a_sixteen_session_course_in_ipt_terms(invoke, tmp_path):
    ok(invoke("clients", "add", CLIENT))
    ok(invoke("course", "start", CLIENT, "--problem-area", "role-disputes", "--problem-area", "role-transitions",
              "--start", "2026-01-05"))
    alerts_at = {}
    for n in range(1, 17):
        day = (date(2026, 1, 5) + timedelta(weeks=n - 1)).isoformat()
        ok(invoke("session", "start", CLIENT, "--date", day))
        if n == 1:
            for text, area in GOALS:
                ok(invoke("goals", CLIENT, "add", text, "--problem-area", area))
        if n == 2:
            ok(invoke("inventory", CLIENT, "add", "partner", "--type", "partner", "--closeness", "inner",
                      "--support", "1", "--conflict", "4", "--contact", "daily", "--wants", "talk without rows"))
            ok(invoke("inventory", CLIENT, "add", "colleague A", "--type", "colleague", "--closeness", "middle",
                      "--support", "1", "--conflict", "3", "--contact", "daily"))
            ok(invoke("inventory", CLIENT, "add", "neighbour", "--type", "friend", "--closeness", "outer",
                      "--support", "2", "--conflict", "0", "--contact", "weekly"))
        due = json.loads(ok(invoke("due", CLIENT, "--json")).stdout)
        assert "gbo" in due["to_give"], (n, due)
        assert due["to_give"][:2] == ["phq9", "gad7"]
        answers = [a for instrument in due["to_give"] for a in typed(instrument, n)]
        out = ok(invoke("administer", CLIENT, "--due", input="\n".join(answers) + "\n")).stdout
        assert out.count("complete and saved") == len(due["to_give"])
        assert f"Total: {PHQ9_TOTALS[n]}," in out
        for text, _ in GOALS:
            assert text in out  # each goal asked in the client's own words
        alerts_at[n] = json.loads(ok(invoke("alerts", CLIENT, "--json")).stdout)
        if n == 10:
            [review] = [a for a in alerts_at[10] if a["kind"] == "mid-course-review"]
            assert review["status"] == "open" and review["session_number"] == 10
            assert "PHQ-9 20 (severe) is no reliable improvement on baseline 15 (session 1; change +5" in review["message"]
            ok(invoke("alerts", "ack", review["id"], "--action",
                      "Reviewed the formulation with the client; kept role disputes; referred for a medication review"))
        if n == 16:
            for label, support, conflict in (("partner", 3, 1), ("colleague A", 2, 1), ("neighbour", 3, 0)):
                ok(invoke("inventory", CLIENT, "rate", label, "--support", support, "--conflict", conflict,
                          "--date", day))
    assert not [a for n in range(1, 10) for a in alerts_at[n] if a["kind"] == "mid-course-review"]
    every = json.loads(ok(invoke("alerts", CLIENT, "--all", "--json")).stdout)
    [review] = [a for a in every if a["kind"] == "mid-course-review"]
    assert review["status"] == "acknowledged" and "medication review" in review["action"]
    assert not [a for a in every if a["kind"] == "mid-course-review" and a["id"] != review["id"]]  # raised once

    ok(invoke("course", "summary", CLIENT, "--warning-signs", "Waking at 4am; rows about money again",
              "--plan", "Use the money-talk plan; call the GP if two weeks of poor sleep"))
    ok(invoke("course", "end", CLIENT, "--reason", "completed", "--date", "2026-04-20"))

    summary = json.loads(ok(invoke("course", "summary", CLIENT, "--json")).stdout)
    assert summary["course_type"]["id"] == "standard" and summary["sessions_attended"] == 16
    assert summary["mid_course_review"] == 10
    assert [len(g["ratings"]) for g in summary["goals"]] == [16, 16, 16]
    assert [(g["first"], g["latest"]) for g in summary["goals"]] == [
        (goal_rating(n, 1), goal_rating(n, 16)) for n in (1, 2, 3)]
    partner = next(r for r in summary["inventory"] if r["label"] == "partner")
    assert (partner["start"]["session_number"], partner["end"]["session_number"]) == (2, 16)
    assert (partner["start"]["support"], partner["end"]["support"]) == (1, 3)

    progress = ok(invoke("progress", CLIENT)).stdout
    assert "partner (partner): inner, support 1, conflict 4 (s2) -> inner, support 3, conflict 1 (s16)" in progress
    assert "1. [role-disputes] Talk with my partner about money without a row: 2 -> 10 (+8)" in progress
    assert "Warning signs: Waking at 4am" in progress

    report = tmp_path / "termination.html"
    ok(invoke("report", CLIENT, "-o", report))
    html = report.read_text()
    for shown in ("Talk with my partner about money without a row", "colleague A", "Waking at 4am",
                  "call the GP if two weeks of poor sleep", "Mid-course review (session 10 of 16)",
                  "referred for a medication review"):
        assert shown in html, shown


def _course_through_due(invoke, client, args, sessions, weeks_apart, tmp_path):
    """Run a course through `due`, `administer --due` (PHQ-9 from PHQ9_TOTALS) and `progress`."""
    ok(invoke("clients", "add", client))
    ok(invoke("course", "start", client, "--problem-area", "role-transitions", "--start", "2025-01-06", *args))
    ok(invoke("goals", client, "add", "Join the choir in the new town"))
    said = []
    for n in range(1, sessions + 1):
        day = (date(2025, 1, 6) + timedelta(weeks=weeks_apart * (n - 1))).isoformat()
        ok(invoke("session", "start", client, "--date", day))
        due = json.loads(ok(invoke("due", client, "--json")).stdout)
        said.append(due)
        answers = [a for instrument in due["to_give"] for a in typed(instrument, n)[: (1 if instrument == "gbo" else None)]]
        ok(invoke("administer", client, "--due", input="\n".join(answers) + "\n"))
    report = tmp_path / f"{client}.html"
    ok(invoke("report", client, "-o", report))
    return said, ok(invoke("progress", client)).stdout, report.read_text()


def test_a_brief_ipt_course_through_due_progress_and_the_report(invoke, tmp_path):
    said, progress, html = _course_through_due(invoke, "e2e-brief", ["--sessions", "8"], 8, 1, tmp_path)
    assert [d["phase"] for d in said] == ["initial"] * 2 + ["middle"] * 4 + ["termination"] * 2
    assert all(d["planned"] == 8 for d in said)
    full = ["phq9", "gad7", "mspss", "wsas", "gbo"]
    assert [n + 1 for n, d in enumerate(said) if d["to_give"] == full] == [1, 4, 8]  # first, mid (ceil 8/2), last
    assert "brief IPT (IPT-B) (weekly), 8 sessions planned, 8 held" in progress
    assert "Mid-course review at session 5." in progress
    assert "session 8 of 8 planned, termination phase" in progress
    assert "brief IPT (IPT-B)" in html and "Join the choir in the new town" in html


def test_a_maintenance_course_through_due_progress_and_the_report(invoke, tmp_path):
    said, progress, html = _course_through_due(invoke, "e2e-maint", ["--type", "maintenance", "--sessions", "6"],
                                               6, 4, tmp_path)
    assert [d["phase"] for d in said] == ["initial"] + ["middle"] * 3 + ["termination"] * 2
    full = ["phq9", "gad7", "mspss", "wsas", "gbo"]
    assert [n + 1 for n, d in enumerate(said) if d["to_give"] == full] == [1, 3, 6]
    assert "maintenance IPT (IPT-M) (monthly), 6 sessions planned, 6 held" in progress
    assert "Mid-course review" not in progress  # none for maintenance: clients start remitted
    assert not [a for a in json.loads(ok(invoke("alerts", "e2e-maint", "--all", "--json")).stdout)
                if a["kind"] == "mid-course-review"]
    assert "maintenance IPT (IPT-M)" in html and "Join the choir in the new town" in html

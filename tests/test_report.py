"""`ipt report`: the self-contained HTML (and PDF) clinical review of a course.

The course and its hand-worked figures are those of tests/test_review.py (synthetic; PHQ-9 and GAD-7
rules cited there): PHQ-9 16 -> 4 recovered, GAD-7 12 -> 6 recovered, item 9 endorsed at session 2.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest

from ipt_measures.report import render_html, write_report
from ipt_measures.review import progress, report
from ipt_measures.store import open_store
from test_review import build_caseload, recovering, record

WHEN = datetime(2026, 2, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "report.db"
    with open_store(path) as store:
        build_caseload(store)
    return path


@pytest.fixture
def html(db):
    with open_store(db) as store:
        return render_html(report(store, "c-rec"), generated_at=WHEN)


def svgs(text):
    return re.findall(r"<svg\b.*?</svg>", text, flags=re.S)


def test_report_shows_the_course(html):
    assert "<title>Clinical review: client c-rec</title>" in html
    assert 'generated <time datetime="2026-02-23T12:00Z">2026-02-23 12:00 UTC</time>' in html
    for fact in ("<dt>Problem area(s)</dt><dd>grief</dd>",
                 '<dt>Started</dt><dd><time datetime="2026-01-05">2026-01-05</time></dd>',
                 "<dt>Sessions attended</dt><dd>8 of 12 planned</dd>",
                 '<dt>Current session</dt><dd>8 (middle phase, <time datetime="2026-02-23">2026-02-23</time>)</dd>',
                 "<dt>Status</dt><dd>active</dd>"):
        assert fact in html


def test_report_has_one_chart_per_instrument_with_bands_cutoff_and_reliable_range(html):
    charts = svgs(html)
    assert len(charts) == 2 and html.count("<svg") == 2
    phq, gad = charts
    # Text is kept as text in the SVG, so the chart itself names the bands and the lines it draws.
    for label in ("minimal", "mild", "moderate", "moderately severe", "severe"):
        assert f">{label}<" in phq
    assert "clinical cut-off 10 (case at or above)" in phq
    assert "no reliable change: baseline 16 ± 6" in phq  # PHQ-9: 6 points around the baseline of 16
    assert "critical item 9" in phq and "critical item" not in gad
    assert "clinical cut-off 8 (case at or above)" in gad and "no reliable change: baseline 12 ± 4" in gad
    assert "initial phase" in phq and "middle phase" in phq
    # A screen reader gets the series in words.
    assert 'aria-label="PHQ-9 total by session: 16 at session 1, 18 at session 2 with a critical item, 14 at' in phq
    # The band key under each chart gives the ranges in words as well as colour.
    assert "0&ndash;4 minimal" in html and "15&ndash;19 moderately severe" in html and "15&ndash;21 severe" in html
    # Distinct ids, so two inline charts never share a clip path.
    ids = [i for chart in charts for i in re.findall(r'id="([^"]+)"', chart)]
    assert len(ids) == len(set(ids))


def test_report_critical_item_history(html):
    assert "CRITICAL ITEM ENDORSED: 1 in this course, most recently at session 2." in html
    history = html.split('id="critical"')[1].split("</section>")[0]
    assert "Critical-item history" in history
    assert '<tr class="critical">' in history and "Several days (1)" in history and "assess suicide risk now" in history
    assert "2026-01-12" in history


def test_report_change_summary_and_outcome(html):
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert 'Primary measure <strong>PHQ-9</strong>: outcome <span class="badge good">recovered</span>' in summary
    assert "16 at session 1 to 4 at session 8 (-12)" in summary
    assert "6 points (published)" in summary and "4 points (published)" in summary
    assert summary.count('<span class="badge good">recovered</span>') == 3  # headline + PHQ-9 + GAD-7
    assert "NHS Talking Therapies (PHQ-9 + GAD-7, first and last)" in summary
    assert "<th>reliable recovery</th>" in summary


def test_report_is_self_contained(html):
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert "@media print" in html and "@page" in html


def test_report_without_critical_items_says_so(db):
    with open_store(db) as store:
        store.bulk_import([record("c-calm", n, "phq9", [1, 1, 1, 1, 1, 1, 0, 0, 0]) for n in (1, 2)])
        text = render_html(report(store, "c-calm"), generated_at=WHEN)
    assert "CRITICAL ITEM" not in text
    assert "No critical item was endorsed at any administration in this course." in text
    # 6 -> 6: no change at all, so no reliable change.
    assert '<span class="badge same">no reliable change</span>' in text


def test_report_marks_reliable_deterioration(db):
    with open_store(db) as store:
        text = render_html(report(store, "c-worse"), generated_at=WHEN)
    assert '<span class="badge worse">reliably deteriorated</span>' in text
    assert "at the current session" in text


def test_report_command_writes_an_owner_only_html_file(invoke, db, tmp_path):
    out = tmp_path / "c-rec.html"
    result = invoke("report", "c-rec", "-o", out, "--db", db)
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output and "2 instrument(s), 8 sessions" in result.output
    assert "1 critical item(s)" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and text.count("<svg") == 2


def test_report_command_pdf(invoke, db, tmp_path):
    out = tmp_path / "c-rec.pdf"
    result = invoke("report", "c-rec", "-o", out, "--db", db)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    assert b"Clinical review: client c-rec" in data  # the document title in the PDF metadata


def test_report_command_refuses_other_suffixes_and_unknown_clients(invoke, db, tmp_path):
    result = invoke("report", "c-rec", "-o", tmp_path / "c.txt", "--db", db)
    assert result.exit_code == 2 and ".html, .htm or .pdf" in result.stderr
    result = invoke("report", "nobody", "-o", tmp_path / "c.html", "--db", db)
    assert result.exit_code == 1 and "no client" in result.stderr
    assert not (tmp_path / "c.html").exists() and not (tmp_path / "c.txt").exists()
    result = invoke("report", "c-rec", "-o", tmp_path / "no-such-dir" / "c.html", "--db", db)
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_report_for_a_course_without_scores(tmp_path):
    with open_store(tmp_path / "e.db") as store:
        store.add_client("c-new")
        store.start_course("c-new", "2026-02-02", 16, ["role-transitions"], None)
        text = render_html(report(store, "c-new"), generated_at=WHEN)
    assert "No completed administration in this course yet." in text and "<svg" not in text
    assert "<dt>Problem area(s)</dt><dd>role transitions</dd>" in text


def test_report_draws_scales_without_bands_or_change_rules(tmp_path):
    """UCLA-3 has no bands or change parameters; an uninstalled instrument has no definition at all."""
    with open_store(tmp_path / "u.db") as store:
        retired = record("c-u", 2, "phq9", [1] * 8 + [0])
        retired["administration"]["instrument_id"] = "retired-scale"
        store.bulk_import([record("c-u", 1, "ucla3", [2, 2, 3]), record("c-u", 3, "ucla3", [1, 2, 2]), retired])
        text = render_html(report(store, "c-u"), generated_at=WHEN)
    assert text.count("<svg") == 2
    assert "Instrument retired-scale is not installed any more" in text
    assert "clinical cut-off" not in text and "no reliable change:" not in text
    assert '<span class="badge na">not assessable</span>' in text


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed: the screenshot is optional")
def test_report_screenshot(tmp_path):
    """Renders the report in a real browser (when one is installed) so a person can look at it."""
    with open_store(tmp_path / "s.db") as store:
        store.bulk_import(recovering())
        page = write_report(report(store, "c-rec"), tmp_path / "c-rec.html", generated_at=WHEN)
    shot = tmp_path / "c-rec.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1100,3000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 50_000


# -- the charts, as looked at in a browser (issue 14): nothing drawn over anything else --------------------

# The course a new user charted: PHQ-9 at every one of 16 sessions from 2025-12-29, item 9 endorsed at
# session 1 (beside the y-axis), a 15 in "moderately severe" and a 12 in "moderate" at the right-hand edge
# where the band names used to be printed.
SIXTEEN = [13, 8, 10, 11, 14, 10, 13, 13, 13, 12, 11, 12, 10, 11, 15, 12]


def phq9_answers(total, item9=0):
    """Nine PHQ-9 answers (0-3) adding up to ``total``, with item 9 as given."""
    answers, left = [], total - item9
    for _ in range(8):
        answers.append(min(3, left))
        left -= answers[-1]
    return answers + [item9]


def sixteen_sessions(store, client="c-16", critical=(1,)):
    store.bulk_import([
        record(client, n, "phq9", phq9_answers(total, 1 if n in critical else 0), start="2025-12-29", planned=16)
        for n, total in enumerate(SIXTEEN, start=1)
    ])
    return progress(store, client)


def collisions(fig):
    from ipt_measures.charts import overlaps, text_boxes

    boxes = text_boxes(fig)
    return [(a, b) for n, (a, box_a) in enumerate(boxes) for b, box_b in boxes[n + 1:]
            if overlaps(box_a, box_b, pad=0)]


def outside(fig, left=0.0, right=1.0, bottom=0.0, top=1.0):
    from ipt_measures.charts import text_boxes

    w, h = fig.bbox.width, fig.bbox.height
    return [t for t, b in text_boxes(fig)
            if b.x0 < left * w - 0.5 or b.x1 > right * w + 0.5 or b.y0 < bottom * h - 0.5 or b.y1 > top * h + 0.5]


def test_chart_labels_never_overlap(tmp_path):
    """Band names, score numbers, the critical-item tag and the axis numbers each stay clear of the others."""
    from ipt_measures.charts import chart_figure

    with open_store(tmp_path / "c.db") as store:
        course = sixteen_sessions(store)
        crowded = sixteen_sessions(store, "c-crowd", critical=(1, 2, 3, 15, 16))
    for p in (course, crowded):
        fig = chart_figure(p.get("phq9"), p)
        assert collisions(fig) == []
        assert outside(fig) == []  # nothing cut off at the figure's edge either
    # The tag beside the y-axis sits inside the plot, right of its numbers ("25" used to be under it).
    fig = chart_figure(course.get("phq9"), course)
    from ipt_measures.charts import text_boxes

    boxes = dict(text_boxes(fig))
    axes = fig.axes[0].get_window_extent()
    assert boxes["critical item 9"].x0 >= axes.x0


def test_chart_legend_names_the_dotted_baseline(html):
    phq, gad = svgs(html)
    assert "baseline 16 (session 1)" in phq and "baseline 12 (session 1)" in gad


def test_spread_moves_overlapping_labels_apart_within_bounds():
    from ipt_measures.charts import spread

    # Two 10-high labels centred 4 apart move apart symmetrically-enough to clear each other.
    a, b = spread([50, 54], [10, 10], 0, 100)
    assert b - a >= 10 and 40 <= a and b <= 64
    # Pushed against the top, they are moved down rather than out.
    centres = spread([95, 97, 99], [10, 10, 10], 0, 100, gap=1)
    assert max(centres) + 5 <= 100 and all(y - x >= 11 for x, y in zip(centres, centres[1:]))
    # Labels already clear of each other stay where they are.
    assert spread([10, 50, 90], [10, 10, 10], 0, 100) == [10, 50, 90]


def test_pdf_text_stays_inside_the_page_margins(db):
    """The NHS Talking Therapies line ran off the page: every line is wrapped to the margins now."""
    from ipt_measures.report import PdfFlow, pdf_pages

    with open_store(db) as store:
        pages = pdf_pages(report(store, "c-rec"), generated_at=WHEN)
    summary = pages[0]
    assert any("NHS Talking Therapies" in t for t, _ in __import__("ipt_measures.charts").charts.text_boxes(summary))
    for page in pages:
        assert outside(page, PdfFlow.LEFT, PdfFlow.RIGHT, PdfFlow.BOTTOM, PdfFlow.TOP) == []
        assert collisions(page) == []


def test_no_date_can_break_across_lines(db):
    """A date in a narrow column wrapped at its hyphens ("2025-12-/29"): every date is a <time>, never broken."""
    from ipt_measures import presentation

    with open_store(db) as store:
        store.bulk_import([record("c-16", n, "phq9", phq9_answers(t, int(n == 1)), start="2025-12-29", planned=16)
                           for n, t in enumerate(SIXTEEN, start=1)])
        text = render_html(report(store, "c-16"), generated_at=WHEN)
    body = re.sub(r"<svg\b.*?</svg>", "", text, flags=re.S)
    times = re.findall(r"<time datetime=\"[^\"]+\">([^<]*)</time>", body)
    assert "2025-12-29" in times and "2026-04-13" in times
    bare = re.sub(r"<time\b[^>]*>[^<]*</time>", "", body)
    bare = re.sub(r"<[^>]+>", " ", bare)  # attribute values are not text on the page
    assert not re.findall(r"\d{4}-\d{2}-\d{2}", bare)
    assert re.search(r"\.report time\s*{[^}]*white-space:\s*nowrap", presentation.stylesheet())


# -- the IPT termination summary (issue 14 part 5), built against the ipt_summary shape ------------------

def rating(closeness, support, conflict, session, on):
    return {"rated_on": on, "session_number": session, "closeness": closeness, "support": support,
            "conflict": conflict, "contact": "weekly", "wanted_change": None}


def ipt_record(**changes):
    """The shape review.ipt_summary returns (synthetic: labels are pseudonymous roles, never names)."""
    inventory = [
        {"label": "partner", "relationship_type": "partner", "ratings": [],
         "start": dict(rating("inner", 1, 4, 2, "2026-01-12"), wanted_change="argue less about money"),
         "end": rating("inner", 3, 1, 12, "2026-03-23")},
        {"label": "mother", "relationship_type": "family", "ratings": [],
         "start": rating("middle", 2, 2, 2, "2026-01-12"), "end": rating("inner", 3, 1, 12, "2026-03-23")},
        {"label": "colleague A", "relationship_type": "work", "ratings": [],
         "start": rating("outer", 0, 3, 2, "2026-01-12"), "end": None},
    ]
    goals = [
        {"number": 1, "text": "Talk to my partner <about> the move", "problem_area": "grief",
         "ratings": [{"session": n, "date": f"2026-01-{5 + 7 * (n - 1):02d}" if n < 4 else "2026-02-01",
                      "value": v} for n, v in ((1, 2), (2, 3), (3, 5), (8, 8))],
         "first": 2, "latest": 8, "change": 6},
        {"number": 2, "text": "See friends once a week", "problem_area": "grief",
         "ratings": [{"session": 2, "date": "2026-01-12", "value": 1}, {"session": 8, "date": "2026-02-23", "value": 6}],
         "first": 1, "latest": 6, "change": 5},
    ]
    summary = {
        "client_id": "c-end", "course_id": 1,
        "course_type": {"id": "standard", "name": "Standard IPT", "frequency": "weekly",
                        "source": "Weissman, Markowitz & Klerman 2018"},
        "planned_sessions": 12, "sessions_attended": 8, "start_date": "2026-01-05", "end_date": "2026-02-23",
        "end_reason": "planned ending", "active": False, "problem_areas": ["grief"],
        "mid_course_review": 7, "inventory": inventory, "goals": goals, "goal_instrument": "gbo",
        "warning_signs": "Sleeping badly for a week;\nstopping calls with friends",
        "plan": "Call the clinic <at once> if item 9 returns; booster session in 3 months.",
    }
    summary.update(changes)
    return summary


def alert(id_, kind, severity, message, status="open", **more):
    row = {"id": id_, "client_id": "c-end", "course_id": 1, "session_number": None, "administration_id": None,
           "instrument_id": None, "item_id": None, "kind": kind, "severity": severity, "message": message,
           "raised_at": "2026-01-12T10:00:00+00:00", "status": status, "acknowledged_at": None,
           "acknowledged_by": None, "action": None, "note": None}
    row.update(more)
    return row


@pytest.fixture
def finished(tmp_path):
    return finished_report(tmp_path / "end.db")


def finished_report(path):
    """c-rec's course, ended at session 8, with its IPT record and alerts."""
    with open_store(path) as store:
        store.bulk_import([dict(r, course=dict(r["course"], end_date="2026-02-23", end_reason="planned ending"))
                           for r in recovering("c-end")])
        done = progress(store, "c-end")
    flagged = done.critical_items[0]
    alerts = [
        alert(1, "critical-item", "critical", "PHQ-9 item 9 endorsed", status="acknowledged", session_number=2,
              administration_id=flagged["administration_id"], instrument_id="phq9", item_id=flagged["item"],
              acknowledged_at="2026-01-12T10:20:00+00:00", acknowledged_by="dr-okafor",
              action="risk assessed, safety plan agreed", note="no current intent"),
        alert(2, "mid-course-review", "warning", "review at mid-course: no reliable improvement", session_number=7),
    ]
    from ipt_measures.review import Report

    return Report(progress=done, alerts=alerts, ipt=ipt_record())


def test_termination_summary_shows_what_a_supervisor_expects(finished):
    text = render_html(finished, generated_at=WHEN)
    assert "<title>IPT termination summary: client c-end</title>" in text
    summary = text.split('id="summary"')[1].split("</section>")[0]
    assert "Symptom outcome" in summary
    for head in ("Reliable change", "Clinically significant", "Response", "Remission"):
        assert f"<th>{head}</th>" in summary
    # Goals start -> end, tied to the problem area, escaped.
    focus = text.split('id="ipt-focus"')[1].split("</section>")[0]
    assert "Problem-area focus</dt><dd>grief" in focus and "<dt>Course type</dt><dd>Standard IPT (weekly)</dd>" in text
    assert "Talk to my partner &lt;about&gt; the move" in focus and "<about>" not in text
    assert re.search(r'<td class="num">2 <span class="note">\(s1\)</span></td>\s*<td class="num">8 '
                     r'<span class="note">\(s8\)</span></td>\s*<td class="num">\+6</td>', focus)
    # The goals chart sits with the symptom chart it shares sessions with (right after PHQ-9's figure).
    charts = text.split('id="charts"')[1]
    assert charts.index('id="chart-phq9"') < charts.index('id="chart-goals"') < charts.index('id="chart-gad7"')
    assert 'aria-label="Goal ratings by session: goal 1: 2 at session 1, 3 at session 2' in charts
    # The inventory start -> end, as a picture and in words.
    inventory = text.split('id="inventory"')[1].split("</section>")[0]
    assert inventory.count("<svg") == 1
    assert ("partner: start inner circle, support 1, conflict 4, end inner circle, support 3, conflict 1" in inventory)
    assert "colleague A: start outer circle, support 0, conflict 3, end not re-rated" in inventory
    assert "argue less about money" in inventory and "support 1 (a little)" in inventory
    # The clinician's warning signs and plan, as written (line breaks kept, markup escaped).
    plan = text.split('id="plan"')[1].split("</section>")[0]
    assert "Sleeping badly for a week;\nstopping calls with friends" in plan
    assert "Call the clinic &lt;at once&gt; if item 9 returns" in plan


def test_alerts_open_at_the_top_acknowledged_in_the_history(finished):
    text = render_html(finished, generated_at=WHEN)
    top = text.split('id="course"')[0]
    # The acknowledged critical item no longer shouts at the top; the open mid-course alert does.
    assert "CRITICAL ITEM" not in top
    assert "review at mid-course: no reliable improvement" in top and "alert 2" in top
    history = text.split('id="critical"')[1].split("</section>")[0]
    assert '<tr class="critical">' in history and "dr-okafor" in history
    assert "risk assessed, safety plan agreed" in history and "no current intent" in history
    assert '<time datetime="2026-01-12">2026-01-12</time> by dr-okafor' in history
    # Until acknowledged, the critical item is at the top, with the command that acknowledges it.
    finished.alerts[0].update(status="open", acknowledged_at=None, acknowledged_by=None, action=None, note=None)
    text = render_html(finished, generated_at=WHEN)
    top = text.split('id="course"')[0]
    assert "CRITICAL ITEM ENDORSED: 1 in this course, most recently at session 2." in top
    assert "ipt alerts ack 1 --action" in top


def test_termination_summary_pdf_has_every_part_inside_the_margins(finished):
    from ipt_measures.charts import text_boxes
    from ipt_measures.report import PdfFlow, pdf_pages

    pages = pdf_pages(finished, generated_at=WHEN)
    words = " ".join(t for page in pages for t, _ in text_boxes(page))
    for part in ("IPT termination summary: client c-end", "Problem-area focus: grief",
                 "Talk to my partner <about> the move", "start 2, end 8, change +6", "Warning signs",
                 "Sleeping badly for a week;", "acknowledged 2026-01-12 by dr-okafor: risk assessed",
                 "review at mid-course", "Interpersonal inventory, start and end", "colleague A"):
        assert part in words, part
    for page in pages:
        assert outside(page, PdfFlow.LEFT, PdfFlow.RIGHT, PdfFlow.BOTTOM, PdfFlow.TOP) == []
        assert collisions(page) == []


def test_inventory_picture_labels_never_overlap():
    """Eight relationships, several in one circle: every name clear of the others, the circles' names and the edge."""
    from ipt_measures.charts import inventory_figure

    circles = ["inner", "inner", "inner", "middle", "middle", "outer", "outer", "outer"]
    relationships = [
        {"label": f"relation {n}", "relationship_type": "friend", "ratings": [],
         "start": rating(c, n % 5, (n + 2) % 5, 2, "2026-01-12"),
         "end": rating(circles[(n + 3) % 8], (n + 1) % 5, n % 5, 12, "2026-03-23") if n % 3 else None}
        for n, c in enumerate(circles)
    ]
    fig = inventory_figure(relationships)
    assert collisions(fig) == [] and outside(fig) == []
    texts = [t for t, _ in __import__("ipt_measures.charts").charts.text_boxes(fig)]
    assert texts.count("relation 0\nS0 C2") == 1 and "relation 0\nnot re-rated" in texts
    assert {"Start", "End", "inner", "middle", "outer", "client"} <= set(texts)


def test_goals_chart_lines_up_with_the_symptom_chart(finished):
    from ipt_measures.charts import chart_figure, goals_figure

    symptom = chart_figure(finished.progress.get("phq9"), finished.progress)
    goals = goals_figure(finished.ipt["goals"], finished.progress)
    assert symptom.axes[0].get_position().bounds == goals.axes[0].get_position().bounds
    assert symptom.axes[0].get_xlim() == goals.axes[0].get_xlim()
    assert collisions(goals) == [] and outside(goals) == []


def test_report_of_a_finished_course_recorded_through_the_cli(invoke, tmp_path):
    """A brief (IPT-B) course kept with the real commands, ended, then reported: the termination summary."""
    def ok(*args, **kw):
        result = invoke(*args, **kw)
        assert result.exit_code == 0, result.output
        return result

    ok("clients", "add", "t1")
    ok("course", "start", "t1", "--problem-area", "role-transitions", "--sessions", "8", "--start", "2026-01-05")
    ok("goals", "t1", "add", "Settle into the new town", "--problem-area", "role-transitions")
    ok("inventory", "t1", "add", "partner", "--type", "partner", "--closeness", "inner", "--support", "1",
       "--conflict", "3", "--contact", "daily", "--wants", "share the chores", "--date", "2026-01-05")
    phq9 = {1: "2,2,2,2,2,2,1,1,0", 4: "1,1,1,1,1,1,1,1,0", 8: "0,1,0,1,0,1,0,0,0"}
    for n in range(1, 9):
        ok("session", "start", "t1", "--date", (date(2026, 1, 5) + timedelta(weeks=n - 1)).isoformat())
        if n in phq9:
            ok("administer", "t1", "phq9", "--answers", phq9[n])
        ok("administer", "t1", "gbo", "--answers", f"{min(10, n + 1)},,")  # paper entry: goals 2 and 3 unset
    ok("inventory", "t1", "rate", "partner", "--closeness", "inner", "--support", "3", "--conflict", "1")
    ok("course", "summary", "t1", "--warning-signs", "Withdrawing from neighbours", "--plan", "Booster at 3 months")
    ok("course", "end", "t1", "--reason", "completed", "--date", "2026-03-01")
    out = tmp_path / "t1.html"
    ok("report", "t1", "-o", out)
    text = out.read_text(encoding="utf-8")
    assert "<title>IPT termination summary: client t1</title>" in text
    assert "Settle into the new town" in text and 'id="chart-goals"' in text
    # The goals' own instrument is shown as the goals (chart and table), not again as a measure of its own.
    assert 'id="chart-gbo"' not in text and "<td>GBO</td>" not in text and text.count("<svg") == 3
    assert "Goal ratings by session: goal 1: 2 at session 1" in text
    assert "partner: start inner circle, support 1, conflict 3, end inner circle, support 3, conflict 1" in text
    assert "share the chores" in text and "Withdrawing from neighbours" in text and "Booster at 3 months" in text
    assert "<dt>Course type</dt><dd>" in text and "Problem-area focus</dt><dd>role transitions" in text
    pdf = tmp_path / "t1.pdf"
    ok("report", "t1", "-o", pdf)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_critical_alert_stays_at_the_top_of_the_report_until_acknowledged(invoke, tmp_path):
    """The alert lifecycle in the report: raised by the answer, at the top, then in the history once dealt with."""
    def ok(*args):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result

    ok("clients", "add", "a1")
    ok("course", "start", "a1", "--problem-area", "grief", "--sessions", "12", "--start", "2026-01-05")
    ok("session", "start", "a1", "--date", "2026-01-05")
    ok("administer", "a1", "phq9", "--answers", "2,2,2,2,2,2,1,1,2")
    [raised] = json.loads(ok("alerts", "a1", "--json").stdout)
    out = tmp_path / "a1.html"
    ok("report", "a1", "-o", out)
    top = out.read_text(encoding="utf-8").split('id="course"')[0]
    assert "CRITICAL ITEM ENDORSED: 1 in this course, at the current session." in top
    assert f"ipt alerts ack {raised['id']} --action" in top
    ok("alerts", "ack", str(raised["id"]), "--action", "risk assessed, safety plan agreed", "--note", "no intent")
    ok("report", "a1", "-o", out, "--force")
    text = out.read_text(encoding="utf-8")
    assert "CRITICAL ITEM" not in text.split('id="course"')[0]
    history = text.split('id="critical"')[1].split("</section>")[0]
    assert '<tr class="critical">' in history and "risk assessed, safety plan agreed" in history
    assert "no intent" in history and " by " in history and "Alert history" in history


def test_an_alert_left_open_in_an_earlier_course_is_at_the_top_of_the_next(invoke, tmp_path):
    def ok(*args):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result

    ok("clients", "add", "a2")
    ok("course", "start", "a2", "--problem-area", "grief", "--sessions", "12", "--start", "2025-09-01")
    ok("session", "start", "a2", "--date", "2025-09-01")
    ok("administer", "a2", "phq9", "--answers", "2,2,2,2,2,2,1,1,1")
    ok("course", "end", "a2", "--reason", "dropped out", "--date", "2025-09-20")
    ok("course", "start", "a2", "--problem-area", "grief", "--sessions", "12", "--start", "2026-01-05")
    [old] = json.loads(ok("alerts", "a2", "--json").stdout)
    out = tmp_path / "a2.html"
    ok("report", "a2", "-o", out)
    top = out.read_text(encoding="utf-8").split('id="course"')[0]
    assert f"course {old['course_id']}, session 1, phq9 item 9:" in top and f"alert {old['id']}" in top

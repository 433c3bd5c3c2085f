"""The clinical review report: one self-contained HTML file (or a PDF) of a client's course.

Charts are drawn by matplotlib (Agg canvas, SVG output, text kept as text) and inlined, so the file needs
no network, script or font to open or print. Each chart shades the instrument's interpretation bands,
draws the clinical cut-off, the no-reliable-change range around the baseline, and marks every critical
item with a red triangle and a text label (never colour alone). Everything shown comes from
:func:`ipt_measures.review.progress`; this module draws and lays out, it decides nothing clinical.
"""

from __future__ import annotations

import html
import io
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from .charts import band_colours, chart_svg, number
from .output import write_output
from .review import Progress, Series

CATEGORY_CLASS = {
    "recovered": "good",
    "reliably improved": "better",
    "no reliable change": "same",
    "reliably deteriorated": "worse",
    "not assessable": "na",
}

CATEGORY_HELP = [
    ("recovered", "a reliable improvement that also moves the score from the clinical to the non-clinical "
                  "side of the cut-off (Jacobson & Truax 1991)."),
    ("reliably improved", "an improvement at least as large as the reliable-change threshold, without that "
                          "crossing (or where the scale has no cut-off, or the baseline was below it)."),
    ("no reliable change", "any change smaller than the threshold, in either direction: within measurement error."),
    ("reliably deteriorated", "a change in the worse direction at least as large as the threshold."),
    ("not assessable", "fewer than two scored administrations, or no reliable-change parameters for the scale."),
]


# -- HTML ----------------------------------------------------------------------------------------------


_num = number


def _signed(value: Any) -> str:
    text = _num(value)
    return text if not text or text.startswith("-") or text == "0" else "+" + text


def _yes_no(value: Any) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


CSS = """
:root { --ink: #1d2733; --muted: #5b6670; --line: #d5dbe0; --critical: #b3261e; --blue: #1f4e79; }
* { box-sizing: border-box; }
body { font: 15px/1.45 -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 60rem; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; color: var(--blue); }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
.meta, .source, figcaption, .note { color: var(--muted); font-size: .85rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.2rem; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .8rem; font-weight: 600; font-size: .85rem;
         border: 1px solid currentColor; white-space: nowrap; }
.badge.good { color: #1e6b3a; background: #e3f1e7; } .badge.better { color: #1f5f66; background: #e0f0f1; }
.badge.same { color: #4d4d4d; background: #f1f1f1; } .badge.worse { color: #8a3b00; background: #fde9d9; }
.badge.na { color: #6b6b6b; background: #fff; border-style: dashed; }
.critical-banner { border: 3px solid var(--critical); border-left-width: 12px; background: #fdf0ef;
                   padding: .8rem 1rem; margin: 1.2rem 0; }
.critical-banner strong { color: var(--critical); font-size: 1.05rem; letter-spacing: .02em; }
.critical-banner ul { margin: .4rem 0 0; padding-left: 1.2rem; }
tr.critical td { background: #fdf0ef; } tr.critical td:first-child { border-left: 6px solid var(--critical); }
.crit-mark { color: var(--critical); font-weight: 700; }
.none { padding: .6rem .8rem; background: #f3f8f4; border-left: 6px solid #7fb08e; }
figure.instrument { margin: 1.2rem 0 2rem; padding: 1rem; border: 1px solid var(--line); border-radius: 6px; }
svg.chart { width: 100%; height: auto; display: block; }
ul.bands { list-style: none; padding: 0; margin: .4rem 0; display: flex; flex-wrap: wrap; gap: .3rem .9rem; }
ul.bands li { font-size: .85rem; } .swatch { display: inline-block; width: .9rem; height: .9rem;
  border: 1px solid #999; vertical-align: -2px; margin-right: .3rem; }
table.scores { margin-top: .6rem; font-size: .85rem; }
dl.help dt { font-weight: 600; } dl.help dd { margin: 0 0 .4rem 1rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .8rem; border-top: 1px solid var(--line); padding-top: .6rem; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; } figure.instrument, .critical-banner, table { break-inside: avoid; }
  .badge, .swatch, th, tr.critical td, .critical-banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_html(progress: Progress, generated_at: Optional[datetime] = None) -> str:
    """The whole report as one self-contained HTML document."""
    from . import __version__

    generated_at = generated_at or datetime.now(timezone.utc)
    course = progress.course
    title = f"Clinical review: client {progress.client_id}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{e(title)}</h1>",
        f'<p class="meta">Course {e(course["id"])} &middot; generated {e(generated_at.strftime("%Y-%m-%d %H:%M UTC"))} '
        f"by ipt-measures {e(__version__)} &middot; confidential clinical record: store and share as one</p></header>",
    ]
    parts.append(_critical_banner(progress))
    parts.append(_course_section(progress))
    parts.append(_summary_section(progress))
    parts.append(_critical_section(progress))
    parts.append('<section id="charts"><h2>Measures across the course</h2>')
    if not progress.series:
        parts.append('<p class="none">No completed administration in this course yet.</p>')
    for series in progress.series:
        parts.append(_instrument_figure(series, progress))
    parts.append("</section>")
    parts.append(_help_section(progress))
    parts.append(
        "<footer>Scores, bands, cut-offs and reliable-change thresholds are those published for each instrument "
        "(sources given under each chart). A report supports clinical judgement; it does not replace it. "
        "Synthetic records only in examples and tests.</footer></body></html>"
    )
    return "\n".join(parts)


def _critical_banner(progress: Progress) -> str:
    items = progress.critical_items
    if not items:
        return ""
    latest = items[-1]
    current = progress.course.get("current_session")
    when = "at the current session" if current == latest["session"] else f"most recently at session {latest['session']}"
    rows = "".join(
        f"<li>Session {e(c['session'])} ({e(c['date'])}), {e(c['instrument_name'])} item {e(c['item'])} "
        f"&ldquo;{e(c['answer'])}&rdquo;: {e(c['message'])}</li>"
        for c in items
    )
    return (
        f'<div class="critical-banner" role="alert"><strong>&#9888; CRITICAL ITEM{"S" if len(items) > 1 else ""} '
        f"ENDORSED: {len(items)} in this course, {e(when)}.</strong><ul>{rows}</ul></div>"
    )


def _course_section(progress: Progress) -> str:
    c = progress.course
    status = "active" if c["active"] else f"ended {c.get('end_date')} ({c.get('end_reason') or 'no reason given'})"
    facts = [
        ("Client (pseudonym)", progress.client_id),
        ("Problem area(s)", ", ".join(a.replace("-", " ") for a in c["problem_areas"])),
        ("Started", c["start_date"]),
        ("Sessions attended", f"{c['sessions_attended']} of {c['planned_sessions']} planned"),
        ("Current session", f"{c['current_session']} ({c['current_phase']} phase, {c['last_session_date']})"
         if c["current_session"] else "none yet"),
        ("Protocol", c.get("protocol") or "none"),
        ("Status", status),
    ]
    if progress.in_progress:
        facts.append(("In progress, not scored", ", ".join(
            f"{a['instrument']} (session {a['session']})" for a in progress.in_progress)))
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    return f'<section id="course"><h2>Course of treatment</h2><dl class="facts">{rows}</dl></section>'


def _threshold_text(series: Series) -> str:
    t = series.threshold
    if t is None:
        return "not defined"
    if t["method"] == "published":
        return f"{_num(t['points'])} points (published)"
    return f"more than {_num(round(t['points'], 2))} points (RCI, Jacobson &amp; Truax)"


def _badge(category: str) -> str:
    return f'<span class="badge {CATEGORY_CLASS.get(category, "na")}">{e(category)}</span>'


def _summary_section(progress: Progress) -> str:
    out = ['<section id="summary"><h2>Change summary and outcome</h2>']
    if not progress.series:
        out.append('<p class="none">Nothing to summarise yet.</p></section>')
        return "".join(out)
    primary = progress.get(progress.primary) if progress.primary else None
    if primary is not None:
        s = primary.summary
        out.append(
            f"<p>Primary measure <strong>{e(primary.short_name)}</strong>: outcome {_badge(s['category'])}"
            + (f" &mdash; {_num(s['baseline'])} at session {e(s['baseline_session'])} to {_num(s['latest'])} at "
               f"session {e(s['latest_session'])} ({_signed(s['change_from_baseline'])})." if s["latest"] is not None
               else ".")
            + "</p>"
        )
    head = ("<tr><th>Measure</th><th class=num>Baseline</th><th class=num>Latest</th><th class=num>Change</th>"
            "<th class=num>%</th><th>Reliable change</th><th>Category</th><th>Response</th><th>Remission</th></tr>")
    rows = []
    for series in progress.series:
        s = series.summary
        rows.append(
            f"<tr><td>{e(series.short_name)}</td>"
            f"<td class=num>{_num(s['baseline'])}{_session(s['baseline_session'])}</td>"
            f"<td class=num>{_num(s['latest'])}{_session(s['latest_session'])}</td>"
            f"<td class=num>{_signed(s['change_from_baseline'])}</td>"
            f"<td class=num>{_signed(round(s['percent_change'])) + '%' if s['percent_change'] is not None else ''}</td>"
            f"<td>{_threshold_text(series)}</td><td>{_badge(s['category'])}</td>"
            f"<td>{_yes_no(s['responded'])}</td><td>{_yes_no(s['in_remission'])}</td></tr>"
        )
    out.append(f"<table class=summary>{head}{''.join(rows)}</table>")
    tt = progress.talking_therapies
    if tt:
        out.append(_talking_therapies_html(tt))
    out.append("</section>")
    return "".join(out)


def _session(number: Any) -> str:
    return f' <span class="note">(s{e(number)})</span>' if number is not None else ""


def _talking_therapies_html(tt: dict) -> str:
    if not tt["assessable"]:
        return ('<p class="note">NHS Talking Therapies outcome: not assessable (needs a scored PHQ-9 and GAD-7 '
                "at both the first and the last measurement).</p>")
    facts = [
        ("caseness at start", tt["case_at_start"]),
        ("caseness at end", tt["case_at_end"]),
        ("recovery", tt["recovery"]),
        ("reliable improvement", tt["reliable_improvement"]),
        ("reliable recovery", tt["reliable_recovery"]),
        ("reliable deterioration", tt["reliable_deterioration"]),
    ]
    cells = "".join(f"<td>{_yes_no(v)}</td>" for _, v in facts)
    head = "".join(f"<th>{e(k)}</th>" for k, _ in facts)
    return (
        "<h3 style='margin-top:1rem'>NHS Talking Therapies paired outcome (PHQ-9 and GAD-7, first and last)</h3>"
        f"<table><tr>{head}</tr><tr>{cells}</tr></table>"
        '<p class="source">Caseness PHQ-9 &ge; 10 or GAD-7 &ge; 8; reliable change 6 (PHQ-9) and 4 (GAD-7) points; '
        "recovery counted only for those who were a case at the start. NHS Talking Therapies Manual (v6, 2023).</p>"
    )


def _critical_section(progress: Progress) -> str:
    out = ['<section id="critical"><h2>Critical-item history</h2>']
    if not progress.critical_items:
        out.append('<p class="none">No critical item was endorsed at any administration in this course.</p>')
    else:
        out.append("<table><tr><th>Session</th><th>Date</th><th>Measure</th><th>Item</th><th>Answer</th>"
                   "<th>What it means</th></tr>")
        for c in progress.critical_items:
            out.append(
                f'<tr class="critical"><td><span class="crit-mark">&#9650;</span> {e(c["session"])}</td>'
                f"<td>{e(c['date'])}</td><td>{e(c['instrument_name'])}</td><td>{e(c['item'])}</td>"
                f"<td>{e(c['answer'])} ({e(c['value'])})</td><td>{e(c['message'])}</td></tr>"
            )
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _instrument_figure(series: Series, progress: Progress) -> str:
    title = f"{series.short_name}: {series.name}" if series.short_name != series.name else series.name
    out = [f'<figure class="instrument" id="chart-{e(series.instrument_id)}"><h3>{e(title)}</h3>']
    if not series.registered:
        out.append(f'<p class="note">Instrument {e(series.instrument_id)} is not installed any more: scores are '
                   "shown as stored, without bands or change rules.</p>")
    out.append(chart_svg(series, progress))
    if series.bands:
        swatches = "".join(
            f'<li><span class="swatch" style="background:{colour}"></span>{_num(b["min"])}&ndash;{_num(b["max"])} '
            f"{e(b['label'])}</li>"
            for b, colour in band_colours(series.bands)
        )
        out.append(f'<ul class="bands" aria-label="bands">{swatches}</ul>')
    out.append(_scores_table(series))
    notes = []
    if series.bands_source:
        notes.append(f"Bands: {e(series.bands_source)}")
    if series.change_source:
        notes.append(f"Cut-off and reliable change: {e(series.change_source)}")
    if series.threshold:
        notes.append(f"Reliable change: {_threshold_text(series)}; the hatched range around the baseline is the "
                     "change that could be measurement error.")
    if notes:
        out.append("<figcaption>" + "<br>".join(notes) + "</figcaption>")
    out.append("</figure>")
    return "".join(out)


def _scores_table(series: Series) -> str:
    head = ("<tr><th>Session</th><th>Date</th><th class=num>Score</th><th>Band</th>"
            "<th class=num>From baseline</th><th>Reliable change</th><th>Critical item</th></tr>")
    rows = []
    for p in series.points:
        value = "not scored" if p.value is None else _num(p.value) + (" (prorated)" if p.prorated else "")
        if p.is_baseline:
            reliable = "baseline"
        else:
            reliable = {"improved": "reliable improvement", "deteriorated": "reliable deterioration",
                        "no reliable change": "no"}.get(p.reliable or "", "")
        crit = ", ".join(f"item {f['item']}: {f['answer']}" for f in p.flags)
        rows.append(
            f'<tr{" class=critical" if p.flags else ""}><td>{e(p.session)}</td><td>{e(p.date)}</td>'
            f"<td class=num>{e(value)}</td><td>{e(p.band)}</td><td class=num>{_signed(p.change_from_baseline)}</td>"
            f"<td>{e(reliable)}</td><td>{('<span class=crit-mark>&#9650; ' + e(crit) + '</span>') if crit else ''}</td></tr>"
        )
    return f"<table class=scores>{head}{''.join(rows)}</table>"


def _help_section(progress: Progress) -> str:
    items = "".join(f"<dt>{_badge(name)}</dt><dd>{e(text)}</dd>" for name, text in CATEGORY_HELP)
    return (
        '<section id="reading"><h2>How to read this report</h2>'
        "<p>Baseline is the first scored administration of the course; change is latest minus baseline. "
        "A change is <em>reliable</em> when it is at least the published reliable-change threshold for the "
        "measure, or, where none is published, when the Reliable Change Index exceeds 1.96 "
        "(Jacobson &amp; Truax 1991). Response is an improvement of at least half the baseline score; "
        "remission is a score below the published remission threshold.</p>"
        f'<dl class="help">{items}</dl></section>'
    )


# -- PDF -----------------------------------------------------------------------------------------------

A4 = (8.27, 11.69)  # inches
INK = "#1d2733"
GREY = "#5b6670"


class PdfFlow:
    """Lays text, tables and charts down A4 pages from the top, starting a new page when one is full.

    Text is wrapped to the page's margins as the renderer measures it, so no line runs off the page
    (a long NHS Talking Therapies line used to) and wrapped lines push what follows down.
    """

    LEFT, RIGHT, TOP, BOTTOM = 0.08, 0.92, 0.955, 0.045  # margins, as fractions of the page

    def __init__(self) -> None:
        self.pages: list[Any] = []
        self.fig: Any = None
        self.y = self.TOP

    def new_page(self) -> None:
        from matplotlib.figure import Figure

        from .charts import renderer_of

        self.fig = Figure(figsize=A4)
        renderer_of(self.fig)
        self.pages.append(self.fig)
        self.y = self.TOP

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` (a fraction of the page) still fits on this one."""
        if self.fig is None or self.y - height < self.BOTTOM:
            self.new_page()

    def space(self, height: float) -> None:
        self.y -= height

    def text(self, text: str, size: float = 10, weight: str = "normal", colour: str = INK, indent: float = 0.0,
             after: float = 0.006) -> None:
        from .charts import renderer_of, wrap_to_width

        if self.fig is None:
            self.new_page()
        width = (self.RIGHT - self.LEFT - indent) * self.fig.bbox.width
        line_height = size * 1.4 / 72 / A4[1]
        for line in wrap_to_width(text, width, size, renderer_of(self.fig), weight):
            self.need(line_height)
            self.fig.text(self.LEFT + indent, self.y, line, fontsize=size, fontweight=weight, color=colour, va="top")
            self.y -= line_height
        self.y -= after

    def heading(self, text: str, size: float = 13) -> None:
        self.need(0.09)  # never a heading alone at the foot of a page
        self.space(0.008)
        self.text(text, size, "bold", after=0.008)

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = 8.5) -> None:
        row_height = size * 2.1 / 72 / A4[1]
        height = row_height * (len(rows) + 1)
        self.need(height)
        ax = self.fig.add_axes((self.LEFT, self.y - height, self.RIGHT - self.LEFT, height))
        ax.axis("off")
        table = ax.table(cellText=rows, colLabels=header, cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1),
                         colWidths=widths)
        table.auto_set_font_size(False)
        table.set_fontsize(size)
        for (row, _), cell in table.get_celld().items():
            cell.set_edgecolor("#d5dbe0")
            if row == 0:
                cell.set_facecolor("#f3f5f7")
        self.y -= height + 0.012

    def axes(self, height: float, left: float = 0.0, right: float = 0.0, above: float = 0.0,
             below: float = 0.0) -> Any:
        """Axes ``height`` tall, with room ``above`` and ``below`` it and inset ``left``/``right`` (page fractions)."""
        self.need(above + height + below)
        self.y -= above
        ax = self.fig.add_axes((self.LEFT + left, self.y - height, self.RIGHT - self.LEFT - left - right, height))
        self.y -= height + below
        return ax


def render_pdf(progress: Progress, path: Any, generated_at: Optional[datetime] = None) -> None:
    """The same content as a PDF: the summary (course, outcome, critical items), then the charts."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages

    from . import __version__
    from .charts import chart_style

    with matplotlib.rc_context(chart_style()):
        pages = pdf_pages(progress, generated_at)
        with PdfPages(path, metadata={"Title": f"Clinical review: client {progress.client_id}",
                                      "Creator": f"ipt-measures {__version__}"}) as pdf:
            for page in pages:
                pdf.savefig(page)


def pdf_pages(progress: Progress, generated_at: Optional[datetime] = None) -> list[Any]:
    """The PDF's pages as matplotlib Figures (A4): what :func:`render_pdf` saves and the tests measure."""
    from .charts import CRITICAL, LINE, draw_chart

    generated_at = generated_at or datetime.now(timezone.utc)
    c = progress.course
    flow = PdfFlow()
    flow.text(f"Clinical review: client {progress.client_id}", 17, "bold", LINE, after=0.004)
    flow.text(f"Course {c['id']} - generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')} - confidential clinical "
              "record", 8.5, colour=GREY, after=0.016)
    if progress.critical_items:
        flow.text(f"CRITICAL ITEM{'S' if len(progress.critical_items) > 1 else ''} ENDORSED IN THIS COURSE: "
                  f"{len(progress.critical_items)}", 12, "bold", CRITICAL)
        for item in progress.critical_items:
            flow.text(f"Session {item['session']} ({item['date']}), {item['instrument_name']} item {item['item']} "
                      f"\"{item['answer']}\"", 9.5, "bold", CRITICAL, indent=0.015, after=0.002)
            flow.text(item["message"], 8.5, colour=CRITICAL, indent=0.03)
    flow.heading("Course of treatment")
    status = "active" if c["active"] else f"ended {c.get('end_date')}"
    for label, value in (
        ("Problem area(s)", ", ".join(a.replace("-", " ") for a in c["problem_areas"])),
        ("Started", c["start_date"]),
        ("Sessions attended", f"{c['sessions_attended']} of {c['planned_sessions']} planned"),
        ("Current session", f"{c['current_session']} ({c['current_phase']} phase, {c['last_session_date']})"
         if c["current_session"] else "none yet"),
        ("Status", status),
    ):
        flow.text(f"{label}:  {value}", 10, after=0.002)
    flow.heading("Change summary and outcome")
    if progress.series:
        rows = []
        for series in progress.series:
            s = series.summary
            rows.append([series.short_name, _num(s["baseline"]), _num(s["latest"]), _signed(s["change_from_baseline"]),
                         _threshold_text(series).replace("&amp;", "&"), s["category"], _yes_no(s["responded"]),
                         _yes_no(s["in_remission"])])
        flow.table(["Measure", "Baseline", "Latest", "Change", "Reliable change", "Category", "Response", "Remission"],
                   rows, [0.1, 0.09, 0.08, 0.08, 0.25, 0.2, 0.1, 0.1])
    tt = progress.talking_therapies
    if tt and tt["assessable"]:
        flow.text("NHS Talking Therapies (PHQ-9 + GAD-7): " + ", ".join(
            f"{k.replace('_', ' ')} {_yes_no(tt[k])}"
            for k in ("recovery", "reliable_improvement", "reliable_recovery", "reliable_deterioration")), 9.5)
    if not progress.critical_items:
        flow.text("Critical items: none endorsed in this course.", 10)
    flow.space(0.006)
    flow.text("Baseline is the first scored administration; change is latest minus baseline. Categories follow "
              "Jacobson & Truax (1991); reliable-change thresholds and cut-offs are those published for each "
              "measure (sources in the HTML report).", 8, colour=GREY)

    # Charts: the axes leave room left for the scale, right for the band names, below for the legend.
    for n, series in enumerate(progress.series):
        if n % 2 == 0:
            flow.new_page()
        title = f"{series.short_name}: {series.name}" if series.short_name != series.name else series.name
        flow.need(0.42)
        flow.text(title, 11, "bold")
        ax = flow.axes(0.27, left=0.09, right=0.19, above=0.025, below=0.11)
        draw_chart(flow.fig, ax, series, progress)
    return flow.pages


# -- entry point ---------------------------------------------------------------------------------------


def write_report(progress: Progress, path: Path | str, generated_at: Optional[datetime] = None) -> Path:
    """Write the report as HTML or PDF, chosen by the file's suffix.

    A new file is created readable by its owner only, like the database: it is a clinical record.
    """
    path = Path(path)
    # Rendered in memory first, so a failure never leaves a half-written file over an earlier report.
    if path.suffix.lower() == ".pdf":
        buffer = io.BytesIO()
        render_pdf(progress, buffer, generated_at)
        data = buffer.getvalue()
    else:
        data = render_html(progress, generated_at).encode("utf-8")
    # A regular file is replaced atomically, a device or pipe written in place (see ipt_measures/output.py).
    write_output(path, lambda out: out.write(data), binary=True)
    return path

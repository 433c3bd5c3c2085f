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

from .output import write_output
from .review import Progress, Series

# Calm, print-friendly tints from healthy to concerning (severity 0 up), chosen for contrast with the
# dark score line rather than for meaning on their own: every band is also labelled in words.
BAND_TINTS = ["#e3f1e7", "#eef4dc", "#fbf4d9", "#fbe8d3", "#f7dcd6", "#f0ccd2"]
LINE = "#1f4e79"  # dark blue score line
CUTOFF = "#4d4d4d"
RELIABLE = "#8a8a8a"
CRITICAL = "#b3261e"  # red, always with a triangle and the words "critical item"

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


# -- charts --------------------------------------------------------------------------------------------


def _band_edges(bands: list[dict], low: float, high: float) -> list[tuple[float, float, dict]]:
    """Shade each band up to half way to the next one, so integer bands (0-4, 5-9) meet without a gap."""
    edges = []
    for n, band in enumerate(bands):
        bottom = low if n == 0 else (bands[n - 1]["max"] + band["min"]) / 2
        top = high if n == len(bands) - 1 else (band["max"] + bands[n + 1]["min"]) / 2
        edges.append((bottom, top, band))
    return edges


def _tint(severity: int, max_severity: int) -> str:
    if max_severity <= 0:
        return BAND_TINTS[0]
    return BAND_TINTS[round(severity / max_severity * (len(BAND_TINTS) - 1))]


def band_colours(series: Series) -> list[tuple[dict, str]]:
    top = max((b["severity"] for b in series.bands), default=0)
    return [(b, _tint(b["severity"], top)) for b in series.bands]


def draw_chart(fig: Any, ax: Any, series: Series, progress: Progress) -> None:
    """Draw one instrument's course on ``ax``: bands, cut-off, reliable-change range, scores, critical items."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    points = series.points
    last_session = max([s["number"] for s in progress.sessions] + [p.session for p in points] + [1])
    x_max = max(last_session, progress.course.get("planned_sessions") or 0)
    scored = [p for p in points if p.value is not None]
    if series.range:
        low, high = series.range
    else:
        values = [p.value for p in scored] or [0, 1]
        low, high = min(values), max(values)
    pad = (high - low) * 0.04 or 1
    ax.set_xlim(0.5, x_max + 0.5)
    ax.set_ylim(low - pad, high + pad)
    handles = [Line2D([], [], color=LINE, marker="o", lw=2, label="score")]

    top_severity = max((b["severity"] for b in series.bands), default=0)
    for bottom, top, band in _band_edges(series.bands, low - pad, high + pad):
        ax.axhspan(bottom, top, color=_tint(band["severity"], top_severity), lw=0, zorder=0)
        ax.text(x_max + 0.4, (max(bottom, low) + min(top, high)) / 2, band["label"], ha="right", va="center",
                fontsize=8, color="#555555", zorder=1)

    summary = series.summary
    threshold = series.threshold
    baseline = summary.get("baseline")
    if baseline is not None and threshold is not None:
        start = summary["baseline_session"]
        t = threshold["points"]
        ax.fill_between([start, x_max + 0.5], baseline - t, baseline + t, facecolor="none", edgecolor=RELIABLE,
                        hatch="////", lw=0, alpha=0.55, zorder=1)
        ax.plot([start, x_max + 0.5], [baseline, baseline], color=RELIABLE, lw=1, ls=":", zorder=1)
        handles.append(Patch(facecolor="none", edgecolor=RELIABLE, hatch="////",
                             label=f"no reliable change: baseline {_num(baseline)} \u00b1 {_num(t)}"))

    cutoff = series.clinical_cutoff
    if cutoff is not None:
        ax.axhline(cutoff, color=CUTOFF, lw=1.3, ls=(0, (6, 3)), zorder=2)
        side = "or above" if series.higher_is_worse else "or below"
        handles.append(Line2D([], [], color=CUTOFF, lw=1.3, ls=(0, (6, 3)),
                              label=f"clinical cut-off {_num(cutoff)} (case at {side})"))

    # Score line through the scored administrations; one that could not be scored is an x on the floor.
    ax.plot([p.session for p in scored], [p.value for p in scored], color=LINE, lw=2, marker="o", ms=6,
            mfc="white", mew=2, zorder=4)
    for p in scored:
        ax.annotate(_num(p.value), (p.session, p.value), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8.5, color=LINE, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))
    unscored = [p for p in points if p.value is None]
    if unscored:
        ax.plot([p.session for p in unscored], [low] * len(unscored), ls="none", marker="x", ms=7,
                color="#555555", zorder=4)
        handles.append(Line2D([], [], ls="none", marker="x", color="#555555", label="not scored (items missing)"))

    flagged = [p for p in points if p.flags]
    if flagged:
        for p in flagged:
            y = p.value if p.value is not None else low
            ax.plot([p.session], [y], ls="none", marker="^", ms=13, color=CRITICAL, mec="black", mew=0.8, zorder=6)
            items = ", ".join(f["item"] for f in p.flags)
            # A red rule down the session and a label at the top, clear of the score line.
            ax.axvline(p.session, color=CRITICAL, lw=1, ls=(0, (2, 2)), alpha=0.8, zorder=3)
            ax.text(p.session, 0.97, f"critical item {items}", transform=ax.get_xaxis_transform(), ha="center",
                    va="top", fontsize=8, color=CRITICAL, fontweight="bold", zorder=7,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=CRITICAL, lw=0.8))
        handles.append(Line2D([], [], ls="none", marker="^", ms=10, color=CRITICAL, mec="black",
                              label="critical item endorsed"))

    # IPT phases above the plot, from the sessions held.
    phase_start: list[tuple[int, str]] = []
    for s in progress.sessions:
        if not phase_start or phase_start[-1][1] != s["phase"]:
            phase_start.append((s["number"], s["phase"]))
    for n, (number, phase) in enumerate(phase_start):
        if n:
            ax.axvline(number - 0.5, color="#9a9a9a", lw=0.8, ls=":", zorder=1)
        ax.text(number - 0.45, 1.015, f"{phase} phase", transform=ax.get_xaxis_transform(), fontsize=7.5,
                color="#555555", va="bottom")

    ax.set_xticks(range(1, x_max + 1))
    ax.set_xlabel("session")
    better = {True: "lower is better", False: "higher is better"}.get(series.higher_is_worse, "")
    ax.set_ylabel(f"{series.short_name} total" + (f"\n({better})" if better else ""), fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8.5)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=min(len(handles), 3),
              fontsize=8, frameon=False)


def chart_svg(series: Series, progress: Progress) -> str:
    """One instrument's chart as an inline <svg> element (no XML prolog), text kept as text."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    with matplotlib.rc_context({
        "svg.fonttype": "none",  # text stays text: searchable, selectable, and small
        "svg.hashsalt": f"ipt-{series.instrument_id}",  # deterministic ids, distinct between charts
        "font.family": ["DejaVu Sans", "sans-serif"],
        "hatch.linewidth": 0.6,
    }):
        fig = Figure(figsize=(8.2, 3.5))
        ax = fig.add_subplot()
        draw_chart(fig, ax, series, progress)
        fig.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.3)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "ipt-measures (matplotlib)"})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # matplotlib numbers its elements per figure (figure_1, patch_1...): prefix every id and reference so
    # several charts inline in one page never share an id (a clip path or hatch taken from another chart).
    prefix = "c-" + re.sub(r"[^A-Za-z0-9_-]", "_", series.instrument_id) + "-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    # Let the browser scale the chart to the page width, keeping its aspect ratio.
    scores = ", ".join(
        f"{'not scored' if p.value is None else _num(p.value)} at session {p.session}"
        + (" with a critical item" if p.flags else "")
        for p in series.points
    )
    label = html.escape(f"{series.short_name} total by session: {scores}.", quote=True)
    return re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
                  lambda m: f'<svg{m.group(1)} class="chart" role="img" aria-label="{label}"', text, count=1)


# -- HTML ----------------------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if value is None:
        return ""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


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
            for b, colour in band_colours(series)
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


def render_pdf(progress: Progress, path: Any, generated_at: Optional[datetime] = None) -> None:
    """The same content as a PDF: a summary page (course, outcome, critical items), then two charts a page."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from . import __version__

    generated_at = generated_at or datetime.now(timezone.utc)
    a4 = (8.27, 11.69)
    with matplotlib.rc_context({"font.family": ["DejaVu Sans", "sans-serif"], "hatch.linewidth": 0.6}):
        with PdfPages(path, metadata={"Title": f"Clinical review: client {progress.client_id}",
                                      "Creator": f"ipt-measures {__version__}"}) as pdf:
            pdf.savefig(_pdf_summary_page(Figure(figsize=a4), progress, generated_at))
            charts = list(progress.series)
            for start in range(0, len(charts), 2):
                fig = Figure(figsize=a4)
                for n, series in enumerate(charts[start:start + 2]):
                    ax = fig.add_axes((0.12, 0.58 - n * 0.48, 0.83, 0.32))
                    title = f"{series.short_name}: {series.name}" if series.short_name != series.name else series.name
                    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", pad=18)
                    draw_chart(fig, ax, series, progress)
                pdf.savefig(fig)


def _pdf_summary_page(fig: Any, progress: Progress, generated_at: datetime) -> Any:
    c = progress.course
    y = 0.95

    def line(text: str, size: float = 10, weight: str = "normal", colour: str = "#1d2733", gap: float = 0.022):
        nonlocal y
        fig.text(0.08, y, text, fontsize=size, fontweight=weight, color=colour, va="top", wrap=True)
        y -= gap

    line(f"Clinical review: client {progress.client_id}", 17, "bold", LINE, 0.03)
    line(f"Course {c['id']} - generated {generated_at.strftime('%Y-%m-%d %H:%M UTC')} - confidential clinical record",
         8.5, colour="#5b6670", gap=0.035)
    if progress.critical_items:
        line(f"CRITICAL ITEM{'S' if len(progress.critical_items) > 1 else ''} ENDORSED IN THIS COURSE: "
             f"{len(progress.critical_items)}", 12, "bold", CRITICAL, 0.026)
        for item in progress.critical_items:
            line(f"  Session {item['session']} ({item['date']}), {item['instrument_name']} item {item['item']} "
                 f"\"{item['answer']}\"", 9.5, "bold", CRITICAL, 0.018)
            line(f"    {item['message']}", 8.5, colour=CRITICAL, gap=0.022)
        y -= 0.01
    line("Course of treatment", 13, "bold", gap=0.026)
    status = "active" if c["active"] else f"ended {c.get('end_date')}"
    for label, value in (
        ("Problem area(s)", ", ".join(a.replace("-", " ") for a in c["problem_areas"])),
        ("Started", c["start_date"]),
        ("Sessions attended", f"{c['sessions_attended']} of {c['planned_sessions']} planned"),
        ("Current session", f"{c['current_session']} ({c['current_phase']} phase, {c['last_session_date']})"
         if c["current_session"] else "none yet"),
        ("Status", status),
    ):
        line(f"{label}:  {value}", 10, gap=0.02)
    y -= 0.015
    line("Change summary and outcome", 13, "bold", gap=0.03)
    if progress.series:
        rows = []
        for series in progress.series:
            s = series.summary
            rows.append([series.short_name, _num(s["baseline"]), _num(s["latest"]), _signed(s["change_from_baseline"]),
                         _threshold_text(series).replace("&amp;", "&"), s["category"], _yes_no(s["responded"]),
                         _yes_no(s["in_remission"])])
        height = 0.022 * (len(rows) + 1)
        ax = fig.add_axes((0.08, y - height, 0.86, height))
        ax.axis("off")
        table = ax.table(cellText=rows, colLabels=["Measure", "Baseline", "Latest", "Change", "Reliable change",
                                                   "Category", "Response", "Remission"],
                         cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1),
                         colWidths=[0.1, 0.09, 0.08, 0.08, 0.24, 0.19, 0.1, 0.1])
        table.auto_set_font_size(False)
        table.set_fontsize(8.5)
        for (row, _), cell in table.get_celld().items():
            cell.set_edgecolor("#d5dbe0")
            if row == 0:
                cell.set_facecolor("#f3f5f7")
        y -= height + 0.03
    tt = progress.talking_therapies
    if tt and tt["assessable"]:
        line("NHS Talking Therapies (PHQ-9 + GAD-7): " + ", ".join(
            f"{k.replace('_', ' ')} {_yes_no(tt[k])}"
            for k in ("recovery", "reliable_improvement", "reliable_recovery", "reliable_deterioration")), 9.5)
    if not progress.critical_items:
        line("Critical items: none endorsed in this course.", 10)
    y -= 0.01
    line("Baseline is the first scored administration; change is latest minus baseline. Categories follow "
         "Jacobson & Truax (1991);", 8, colour="#5b6670", gap=0.016)
    line("reliable-change thresholds and cut-offs are those published for each measure (sources in the HTML report).",
         8, colour="#5b6670")
    return fig


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

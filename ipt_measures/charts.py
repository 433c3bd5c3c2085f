"""The report's charts: matplotlib figures laid out so that no label covers another, as inline SVG.

Every chart is drawn on a figure with an Agg canvas: the labels are placed, measured with the canvas's
renderer and moved where they would collide (band names in the right margin spread apart, a critical-item
tag kept inside the plot and stacked below another, a score's number moved below its point when something
sits above it). Matplotlib is imported inside the functions: ``ipt report`` is the only command that pays
for it. This module draws; what is drawn comes from :mod:`ipt_measures.review`, it decides nothing clinical.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from typing import Any, Iterable, Optional, Sequence

# Calm, print-friendly tints from healthy to concerning (severity 0 up), chosen for contrast with the
# dark score line rather than for meaning on their own: every band is also labelled in words.
BAND_TINTS = ["#e3f1e7", "#eef4dc", "#fbf4d9", "#fbe8d3", "#f7dcd6", "#f0ccd2"]
LINE = "#1f4e79"  # dark blue score line
CUTOFF = "#4d4d4d"
RELIABLE = "#8a8a8a"
CRITICAL = "#b3261e"  # red, always with a triangle and the words "critical item"
MUTED = "#555555"

# The line chart of one instrument, in inches; the axes leave a right margin for the band names.
CHART_SIZE = (8.2, 3.7)
CHART_AXES = (0.085, 0.3, 0.74, 0.6)  # left, bottom, width, height (figure fractions)
BAND_LABEL_CHARS = 20  # band names wrap at this width in the right margin
PAD = 2.0  # pixels kept clear around every label


# -- geometry ------------------------------------------------------------------------------------------


def spread(centres: Sequence[float], heights: Sequence[float], low: float, high: float,
           gap: float = 0.0) -> list[float]:
    """Move 1-D intervals (centre, height) the least so none overlap, keeping them in [low, high] if they fit.

    Returns the new centres in the order given. Used for the band names in the chart's margin, where two
    narrow bands would otherwise print their names on top of each other.
    """
    order = sorted(range(len(centres)), key=lambda n: centres[n])
    bottoms = {n: centres[n] - heights[n] / 2 for n in order}
    floor = low
    for n in order:  # upwards: each starts at or above the end of the one below it
        bottoms[n] = max(bottoms[n], floor)
        floor = bottoms[n] + heights[n] + gap
    ceiling = high
    for n in reversed(order):  # then down from the top, for any pushed past it
        bottoms[n] = min(bottoms[n], ceiling - heights[n])
        ceiling = bottoms[n] - gap
    return [bottoms[n] + heights[n] / 2 for n in range(len(centres))]


def overlaps(a: Any, b: Any, pad: float = PAD) -> bool:
    """Whether two display boxes (matplotlib Bbox) come within ``pad`` pixels of each other."""
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


def text_boxes(fig: Any) -> list[tuple[str, Any]]:
    """Every visible, non-empty text of a figure with its display box: what the collision tests look at."""
    from matplotlib.text import Text

    renderer = renderer_of(fig)
    fig.canvas.draw()  # legends, axis labels and ticks find their places only when drawn
    hidden = set()  # tick labels beyond the axis limits, or of an axes switched off: never drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not ax.axison or not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden.update((id(tick.label1), id(tick.label2)))
    found = []
    for artist in fig.findobj(Text):
        if artist.get_visible() and artist.get_text().strip() and id(artist) not in hidden:
            found.append((artist.get_text(), artist.get_window_extent(renderer)))
    return found


def renderer_of(fig: Any) -> Any:
    """The Agg renderer of ``fig``, attaching an Agg canvas first when the figure has none."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _x_shift_inside(box: Any, frame: Any) -> float:
    """Pixels to move a box sideways so it lies within ``frame`` (0 when it already does)."""
    if box.x0 < frame.x0 + PAD:
        return frame.x0 + PAD - box.x0
    if box.x1 > frame.x1 - PAD:
        return frame.x1 - PAD - box.x1
    return 0.0


# -- bands ---------------------------------------------------------------------------------------------


def band_edges(bands: list[dict], low: float, high: float) -> list[tuple[float, float, dict]]:
    """Shade each band up to half way to the next one, so integer bands (0-4, 5-9) meet without a gap."""
    edges = []
    for n, band in enumerate(bands):
        bottom = low if n == 0 else (bands[n - 1]["max"] + band["min"]) / 2
        top = high if n == len(bands) - 1 else (band["max"] + bands[n + 1]["min"]) / 2
        edges.append((bottom, top, band))
    return edges


def tint(severity: int, max_severity: int) -> str:
    if max_severity <= 0:
        return BAND_TINTS[0]
    return BAND_TINTS[round(severity / max_severity * (len(BAND_TINTS) - 1))]


def band_colours(bands: list[dict]) -> list[tuple[dict, str]]:
    """Each band with the tint the chart shades it in (for the key under the chart)."""
    top = max((b["severity"] for b in bands), default=0)
    return [(b, tint(b["severity"], top)) for b in bands]


# -- the line chart of one instrument ------------------------------------------------------------------


def number(value: Any) -> str:
    """A score as the report prints it: at most two decimals, no trailing zeros, never "-0"."""
    if value is None:
        return ""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def draw_chart(fig: Any, ax: Any, series: Any, progress: Any) -> None:
    """Draw one instrument's course on ``ax`` (already in its final place on ``fig``).

    Bands with their names in the right margin, the clinical cut-off, the baseline and the no-reliable-change
    range around it, the scores with their numbers, critical items (triangle, red rule, tag), the IPT phases
    above, a legend below. Labels are measured and moved so none covers another.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    renderer = renderer_of(fig)
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
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []  # display boxes of the labels placed so far
    handles = [Line2D([], [], color=LINE, marker="o", lw=2, mfc="white", mew=2, label="score")]

    top_severity = max((b["severity"] for b in series.bands), default=0)
    band_texts = []
    for bottom, top, band in band_edges(series.bands, low - pad, high + pad):
        ax.axhspan(bottom, top, color=tint(band["severity"], top_severity), lw=0, zorder=0)
        # Names sit in the margin right of the plot, where no score can land on them.
        band_texts.append(ax.text(
            1.012, (max(bottom, low) + min(top, high)) / 2, textwrap.fill(band["label"], BAND_LABEL_CHARS),
            transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8, color=MUTED,
            linespacing=1.1, clip_on=False))
    if band_texts:
        boxes = [t.get_window_extent(renderer) for t in band_texts]
        centres = spread([(b.y0 + b.y1) / 2 for b in boxes], [b.height for b in boxes], frame.y0, frame.y1,
                         gap=2 * PAD)
        to_data = ax.transData.inverted()  # the names' y is in data units (the y-axis transform)
        for text, centre in zip(band_texts, centres):
            text.set_y(to_data.transform((0, centre))[1])
            placed.append(text.get_window_extent(renderer))

    summary = series.summary
    threshold = series.threshold
    baseline = summary.get("baseline")
    if baseline is not None:
        start = summary["baseline_session"]
        ax.plot([start, x_max + 0.5], [baseline, baseline], color=RELIABLE, lw=1.2, ls=":", zorder=1)
        handles.append(Line2D([], [], color=RELIABLE, lw=1.2, ls=":",
                              label=f"baseline {number(baseline)} (session {start})"))
        if threshold is not None:
            t = threshold["points"]
            ax.fill_between([start, x_max + 0.5], baseline - t, baseline + t, facecolor="none", edgecolor=RELIABLE,
                            hatch="////", lw=0, alpha=0.55, zorder=1)
            handles.append(Patch(facecolor="none", edgecolor=RELIABLE, hatch="////",
                                 label=f"no reliable change: baseline {number(baseline)} \u00b1 {number(t)}"))

    cutoff = series.clinical_cutoff
    if cutoff is not None:
        ax.axhline(cutoff, color=CUTOFF, lw=1.3, ls=(0, (6, 3)), zorder=2)
        side = "or above" if series.higher_is_worse else "or below"
        handles.append(Line2D([], [], color=CUTOFF, lw=1.3, ls=(0, (6, 3)),
                              label=f"clinical cut-off {number(cutoff)} (case at {side})"))

    # Score line through the scored administrations; one that could not be scored is an x on the floor.
    ax.plot([p.session for p in scored], [p.value for p in scored], color=LINE, lw=2, marker="o", ms=6,
            mfc="white", mew=2, zorder=4)
    unscored = [p for p in points if p.value is None]
    if unscored:
        ax.plot([p.session for p in unscored], [low] * len(unscored), ls="none", marker="x", ms=7,
                color=MUTED, zorder=4)
        handles.append(Line2D([], [], ls="none", marker="x", color=MUTED, label="not scored (items missing)"))

    flagged = [p for p in points if p.flags]
    if flagged:
        to_data = ax.transData.inverted()
        tags: list[Any] = []
        for p in flagged:
            y = p.value if p.value is not None else low
            ax.plot([p.session], [y], ls="none", marker="^", ms=13, color=CRITICAL, mec="black", mew=0.8, zorder=6)
            ax.axvline(p.session, color=CRITICAL, lw=1, ls=(0, (2, 2)), alpha=0.8, zorder=3)
            items = ", ".join(str(f["item"]) for f in p.flags)
            tag = ax.text(p.session, 0.97, f"critical item {items}", transform=ax.get_xaxis_transform(),
                          ha="center", va="top", fontsize=8, color=CRITICAL, fontweight="bold", zorder=7,
                          bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=CRITICAL, lw=0.8))
            # Inside the plot (never over the axis and its numbers), and below any tag it would cover.
            box = tag.get_window_extent(renderer)
            shift = _x_shift_inside(box, frame)
            if shift:
                x_display = ax.transData.transform((p.session, 0))[0] + shift
                tag.set_x(to_data.transform((x_display, 0))[0])
                box = tag.get_window_extent(renderer)
            row_height = (box.height + 2 * PAD) / frame.height
            row = 0
            while any(overlaps(box, other) for other in tags) and row < 6:
                row += 1
                tag.set_y(0.97 - row * row_height)
                box = tag.get_window_extent(renderer)
            tags.append(box)
        placed.extend(tags)
        handles.append(Line2D([], [], ls="none", marker="^", ms=10, color=CRITICAL, mec="black",
                              label="critical item endorsed"))

    # Each score's number above its point, or below it where a tag or another number is in the way.
    for p in scored:
        lift = 9 if p.flags else 7
        label = None
        for offset, va in ((lift, "bottom"), (-lift - 1, "top")):
            candidate = ax.annotate(number(p.value), (p.session, p.value), textcoords="offset points",
                                    xytext=(0, offset), ha="center", va=va, fontsize=8.5, color=LINE, zorder=5,
                                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))
            box = candidate.get_window_extent(renderer)
            inside = frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(overlaps(box, other) for other in placed):
                label = candidate
                break
            candidate.remove()
        if label is None:  # nowhere clear: above it, as the reader expects
            label = ax.annotate(number(p.value), (p.session, p.value), textcoords="offset points",
                                xytext=(0, lift), ha="center", va="bottom", fontsize=8.5, color=LINE, zorder=5,
                                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))
        placed.append(label.get_window_extent(renderer))

    _draw_phases(ax, progress, renderer)

    if x_max <= 24:
        ax.set_xticks(range(1, x_max + 1))
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("session")
    better = {True: "lower is better", False: "higher is better"}.get(series.higher_is_worse, "")
    ax.set_ylabel(f"{series.short_name} total" + (f"\n({better})" if better else ""), fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8.5)
    columns = 3 if frame.width / fig.dpi >= 5.5 else 2  # a narrow chart (the PDF's) takes two columns
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(handles), columns),
              fontsize=8, frameon=False, borderaxespad=0, handlelength=2.4)


def _draw_phases(ax: Any, progress: Any, renderer: Any) -> None:
    """The IPT phases above the plot, from the sessions held; a name too long for its phase is shortened."""
    starts: list[tuple[int, str]] = []
    for s in progress.sessions:
        if not starts or starts[-1][1] != s["phase"]:
            starts.append((s["number"], s["phase"]))
    previous = None
    for n, (number_, phase) in enumerate(starts):
        if n:
            ax.axvline(number_ - 0.5, color="#9a9a9a", lw=0.8, ls=":", zorder=1)
        text = ax.text(number_ - 0.45, 1.015, f"{phase} phase", transform=ax.get_xaxis_transform(),
                       fontsize=7.5, color=MUTED, va="bottom")
        box = text.get_window_extent(renderer)
        if previous is not None and overlaps(box, previous):
            text.set_text(phase)
            box = text.get_window_extent(renderer)
        if previous is not None and overlaps(box, previous):
            text.set_y(1.015 + 1.3 * box.height / ax.get_window_extent(renderer).height)
            box = text.get_window_extent(renderer)
        previous = box


def chart_figure(series: Any, progress: Any) -> Any:
    """One instrument's chart as a matplotlib Figure (Agg canvas), ready to save as SVG or PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE)
    renderer_of(fig)
    ax = fig.add_axes(CHART_AXES)
    draw_chart(fig, ax, series, progress)
    return fig


# -- SVG -----------------------------------------------------------------------------------------------


def chart_style() -> dict:
    """The rc settings every report chart is drawn under (fonts, hatch), SVG or PDF."""
    return {"font.family": ["DejaVu Sans", "sans-serif"], "hatch.linewidth": 0.6}


def figure_svg(draw: Any, key: str, label: str) -> str:
    """Call ``draw()`` for a Figure and return it as an inline <svg> element named ``label`` for screen readers.

    Text is kept as text (searchable, small); ids are prefixed with ``key`` so several charts inline in
    one page never share a clip path or hatch; the size is left to the page (it scales to the width).
    """
    import matplotlib

    with matplotlib.rc_context({
        **chart_style(),
        "svg.fonttype": "none",
        "svg.hashsalt": f"ipt-{key}",  # deterministic ids
    }):
        fig = draw()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "ipt-measures (matplotlib)"})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    prefix = "c-" + re.sub(r"[^A-Za-z0-9_-]", "_", key) + "-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    aria = html.escape(label, quote=True)
    return re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
                  lambda m: f'<svg{m.group(1)} class="chart" role="img" aria-label="{aria}"', text, count=1)


def chart_svg(series: Any, progress: Any) -> str:
    """One instrument's chart as an inline <svg> element, with the series in words for a screen reader."""
    scores = ", ".join(
        f"{'not scored' if p.value is None else number(p.value)} at session {p.session}"
        + (" with a critical item" if p.flags else "")
        for p in series.points
    )
    return figure_svg(lambda: chart_figure(series, progress), series.instrument_id,
                      f"{series.short_name} total by session: {scores}.")


def wrap_to_width(text: str, width_px: float, size: float, renderer: Any, weight: str = "normal") -> list[str]:
    """Greedy word wrap of ``text`` to lines no wider than ``width_px`` as ``renderer`` measures them."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(family=chart_style()["font.family"], size=size, weight=weight)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            trial = f"{current} {word}" if current else word
            width = renderer.get_text_width_height_descent(trial, prop, ismath=False)[0]
            if current and width > width_px:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
    return lines


# -- goals, on the sessions of the symptom chart -------------------------------------------------------

GOAL_STYLES = (("o", "-"), ("s", (0, (5, 2))), ("D", (0, (1.5, 1.5))))  # marker and dash: never colour alone
GOAL_COLOURS = ("#1f4e79", "#7a4a00", "#4b2a7a")


def course_sessions(progress: Any, points: Iterable[int] = ()) -> int:
    """The last session a chart of the course spans: held, planned, or measured (shared by every chart)."""
    held = [s["number"] for s in progress.sessions] + list(points) + [1]
    return max(max(held), progress.course.get("planned_sessions") or 0)


def draw_goals(fig: Any, ax: Any, goals: list[dict], progress: Any, *, with_text: bool = False) -> None:
    """Goal-Based Outcomes ratings (0-10) per session, one line per goal, on the symptom chart's session axis.

    Each goal is named "goal N" at the end of its line (in the right margin, spread apart like band names);
    its text is shown in the report's table, and here only when ``with_text``.
    """
    from matplotlib.lines import Line2D

    renderer = renderer_of(fig)
    x_max = course_sessions(progress, (r["session"] for g in goals for r in g["ratings"]))
    ax.set_xlim(0.5, x_max + 0.5)
    ax.set_ylim(-0.6, 10.6)
    frame = ax.get_window_extent(renderer)
    handles, names = [], []
    for n, goal in enumerate(goals):
        marker, dash = GOAL_STYLES[n % len(GOAL_STYLES)]
        colour = GOAL_COLOURS[n % len(GOAL_COLOURS)]
        xs = [r["session"] for r in goal["ratings"]]
        ys = [r["value"] for r in goal["ratings"]]
        ax.plot(xs, ys, color=colour, ls=dash, lw=1.8, marker=marker, ms=6, mfc="white", mew=1.6, zorder=4)
        label = f"goal {goal['number']}"
        if with_text:
            label += ": " + textwrap.shorten(goal["text"], 60, placeholder="...")
        handles.append(Line2D([], [], color=colour, ls=dash, lw=1.8, marker=marker, mfc="white", mew=1.6,
                              label=label))
        if ys:
            names.append(ax.text(1.012, ys[-1], f"goal {goal['number']}: {number(ys[-1])}",
                                 transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8,
                                 color=colour, clip_on=False))
    if names:
        boxes = [t.get_window_extent(renderer) for t in names]
        centres = spread([(b.y0 + b.y1) / 2 for b in boxes], [b.height for b in boxes], frame.y0, frame.y1, 2 * PAD)
        to_data = ax.transData.inverted()
        for text, centre in zip(names, centres):
            text.set_y(to_data.transform((0, centre))[1])
    if x_max <= 24:
        ax.set_xticks(range(1, x_max + 1))
    ax.set_yticks(range(0, 11, 2))
    ax.grid(axis="y", color="#e3e6ea", lw=0.8, zorder=0)
    ax.set_xlabel("session")
    ax.set_ylabel("goal rating\n(0-10)", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8.5)
    if not goals or not any(g["ratings"] for g in goals):
        ax.text(0.5, 0.5, "no goal rated yet", transform=ax.transAxes, ha="center", va="center", color=MUTED)
    columns = 3 if frame.width / fig.dpi >= 5.5 else 1
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(handles), columns),
                  fontsize=8, frameon=False, borderaxespad=0, handlelength=2.6)


def goals_figure(goals: list[dict], progress: Any) -> Any:
    """The goals chart, the same size and axes as an instrument's chart so their sessions line up."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE)
    renderer_of(fig)
    draw_goals(fig, fig.add_axes(CHART_AXES), goals, progress)
    return fig


def goals_svg(goals: list[dict], progress: Any) -> str:
    words = "; ".join(
        f"goal {g['number']}: " + ", ".join(f"{number(r['value'])} at session {r['session']}" for r in g["ratings"])
        for g in goals
    )
    return figure_svg(lambda: goals_figure(goals, progress), "goals", f"Goal ratings by session: {words}.")


# -- the interpersonal inventory as closeness circles --------------------------------------------------

SUPPORT_FILL = "#cfe0f1"
SUPPORT_EDGE = "#1f4e79"


def _dot_size(support: Optional[int]) -> float:
    """Marker area (points^2) for a support rating 0-4: larger is more support."""
    return 30 + 45 * (support or 0)


def _place_beside(ax: Any, words: str, xy: tuple[float, float], placed: list[Any], frame: Any, renderer: Any,
                  gap: float, outward: float = 0.0, **style: Any) -> Any:
    """Annotate ``xy`` with ``words`` where it covers nothing placed: outward first, then round the point.

    Candidates go round the point in 45-degree steps from the ``outward`` angle (radians), at ``gap`` points
    and then further out; the first clear one wins, else the first candidate.
    """
    import math

    def side(angle: float, distance: float) -> tuple[float, float, str, str]:
        c, s = math.cos(angle), math.sin(angle)
        ha = "left" if c > 0.35 else "right" if c < -0.35 else "center"
        va = "bottom" if s > 0.35 else "top" if s < -0.35 else "center"
        return distance * c, distance * s, ha, va

    candidates = [side(outward + turn * math.pi / 4, gap * reach)
                  for reach in (1, 1.8, 2.8) for turn in (0, 1, -1, 2, -2, 3, -3, 4)]
    for dx, dy, ha, va in candidates:
        label = ax.annotate(words, xy, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, **style)
        box = label.get_window_extent(renderer)
        inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        if inside and not any(overlaps(box, other) for other in placed):
            placed.append(box)
            return label
        label.remove()
    dx, dy, ha, va = candidates[0]
    label = ax.annotate(words, xy, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, **style)
    placed.append(label.get_window_extent(renderer))
    return label


def draw_inventory(fig: Any, ax: Any, relationships: list[dict], which: str, title: str) -> None:
    """One panel of the inventory: the client at the centre, each relationship in its closeness circle.

    ``which`` is "start" or "end" (the rating shown). Every relationship keeps the same angle in both
    panels, so a move between circles reads as a move along its spoke. Support is the dot's size, conflict
    a red ring around it (thicker is more); each dot is labelled with the relationship and both numbers
    (S support, C conflict), beside the dot on a side where it covers no other dot or label.
    """
    import math

    from matplotlib.patches import Circle
    from matplotlib.transforms import Bbox

    from .domain import CLOSENESS_CIRCLES  # inner, middle, outer: from the client outwards

    renderer = renderer_of(fig)
    ax.set_aspect("equal")
    ax.set_xlim(-3.35, 3.35)
    ax.set_ylim(-3.35, 3.35)
    ax.axis("off")
    ax.set_title(title, fontsize=10, fontweight="bold", pad=4)
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    for n, name in enumerate(CLOSENESS_CIRCLES):
        ax.add_patch(Circle((0, 0), n + 1, facecolor=("#eef3f8", "#f5f8fb", "#fbfcfd")[n], edgecolor="#9aa7b4",
                            lw=1, zorder=0 - n))
        placed.append(ax.text(0, n + 0.93, name, ha="center", va="top", fontsize=7.5, color=MUTED,
                              zorder=1).get_window_extent(renderer))
    ax.plot([0], [0], marker="*", ms=12, color="#1d2733", zorder=5)

    def dot_box(x: float, y: float, area: float) -> Any:
        cx, cy = ax.transData.transform((x, y))
        r = math.sqrt(area) / 2 * fig.dpi / 72
        return Bbox.from_extents(cx - r, cy - r, cx + r, cy + r)

    placed.append(dot_box(0, 0, 12 ** 2))
    dots = []  # (x, y, words, colour)
    count = max(len(relationships), 1)
    for n, rel in enumerate(relationships):
        rating = rel.get(which)
        angle = math.pi / 2 - 2 * math.pi * (n + 0.5) / count
        shown = rating if rating is not None else rel.get("start")
        if shown is None:
            continue
        ring = CLOSENESS_CIRCLES.index(shown["closeness"]) if shown["closeness"] in CLOSENESS_CIRCLES else 2
        radius = ring + (0.62 if ring else 0.6)
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        if rating is None:
            # Not re-rated at the end: a hollow dot where it was at the start, and the words.
            area = _dot_size(0)
            ax.scatter([x], [y], s=area, facecolor="white", edgecolor="#8a8a8a", lw=1.2, ls="--", zorder=4)
            dots.append((x, y, angle, f"{rel['label']}\nnot re-rated", MUTED))
        else:
            conflict = rating.get("conflict") or 0
            area = _dot_size(rating.get("support"))
            ax.scatter([x], [y], s=area, facecolor=SUPPORT_FILL, edgecolor=SUPPORT_EDGE, lw=1, zorder=4)
            if conflict:
                area += 60 + 25 * conflict
                ax.scatter([x], [y], s=area, facecolor="none", edgecolor=CRITICAL, lw=0.9 + 0.8 * conflict, zorder=3)
            dots.append((x, y, angle, f"{rel['label']}\nS{rating.get('support')} C{conflict}", "#1d2733"))
        placed.append(dot_box(x, y, area))
    _place_beside(ax, "client", (0, 0), placed, frame, renderer, 8, -math.pi / 2, fontsize=7.5, color="#1d2733",
                  zorder=5)
    for x, y, angle, words, colour in dots:
        _place_beside(ax, words, (x, y), placed, frame, renderer, 12, angle, fontsize=7.5, color=colour,
                      linespacing=1.05, zorder=6)


INVENTORY_SIZE = (8.2, 4.6)


def inventory_figure(relationships: list[dict]) -> Any:
    """The inventory at the start and at the end, side by side, with a key to dot size and ring."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=INVENTORY_SIZE)
    renderer_of(fig)
    draw_inventory(fig, fig.add_axes((0.02, 0.17, 0.46, 0.76)), relationships, "start", "Start")
    draw_inventory(fig, fig.add_axes((0.52, 0.17, 0.46, 0.76)), relationships, "end", "End")
    from .domain import RATING_ANCHORS as anchors

    handles = [
        Line2D([], [], ls="none", marker="o", ms=(_dot_size(v) ** 0.5), mfc=SUPPORT_FILL, mec=SUPPORT_EDGE,
               label=f"support {v} ({anchors[v]})")
        for v in (1, 4)
    ] + [
        Line2D([], [], ls="none", marker="o", ms=14, mfc="none", mec=CRITICAL, mew=0.9 + 0.8 * 3,
               label="red ring: conflict (thicker is more)"),
        Line2D([], [], ls="none", marker="o", ms=8, mfc="white", mec="#8a8a8a", mew=1.2, label="not re-rated"),
    ]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.01), ncol=4, fontsize=8, frameon=False,
               handletextpad=0.6, columnspacing=1.6)
    return fig


def inventory_svg(relationships: list[dict]) -> str:
    def words(r: Optional[dict]) -> str:
        if r is None:
            return "not re-rated"
        return f"{r['closeness']} circle, support {r.get('support')}, conflict {r.get('conflict')}"

    text = "; ".join(f"{rel['label']}: start {words(rel.get('start'))}, end {words(rel.get('end'))}"
                     for rel in relationships)
    return figure_svg(lambda: inventory_figure(relationships), "inventory",
                      f"Interpersonal inventory, start and end: {text}.")

"""The one presentation layer: autoescaping templates shipped with the package, and one accessible stylesheet."""

import re
import sys

from conftest import ROOT

from ipt_measures import presentation

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance)."""
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colours() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", presentation.stylesheet(), re.S).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root))


def test_stylesheet_colours_meet_wcag_aa_contrast():
    c = _colours()
    for text in ("ink", "muted", "blue", "focus", "critical"):
        assert contrast(c[text], c["paper"]) >= 4.5, text  # WCAG 1.4.3 text: 4.5:1
    assert contrast(c["paper"], c["blue"]) >= 4.5  # white text on the primary button
    assert contrast(c["ink"], c["blue-tint"]) >= 4.5  # the chosen answer
    assert contrast(c["focus"], c["blue-tint"]) >= 3  # WCAG 1.4.11 non-text: 3:1
    assert contrast(c["edge"], c["paper"]) >= 3  # the edge of an answer button


def test_stylesheet_keeps_a_visible_focus_ring():
    css = presentation.stylesheet()
    assert re.search(r":focus-visible\s*{[^}]*outline:\s*3px solid", css)
    assert "outline: none" not in css and "outline:none" not in css


def test_base_template_autoescapes_and_takes_the_stylesheet_inline_or_linked():
    html = presentation.render("base.html", title="<script>x</script>", inline_css=presentation.stylesheet())
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert ":focus-visible" in html and '<html lang="en">' in html
    linked = presentation.render("base.html", title="t", stylesheet_url="/style.css")
    assert '<link rel="stylesheet" href="/style.css">' in linked and "<style>" not in linked


def test_templates_are_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["ipt_measures"]
    shipped = {p.name for p in (ROOT / "ipt_measures" / "templates").iterdir()}
    covered = {name for name in shipped for pat in patterns if (ROOT / "ipt_measures").glob(pat)
               and name in {q.name for q in (ROOT / "ipt_measures").glob(pat)}}
    assert shipped == covered and {"base.html", "style.css"} <= shipped

"""`ipt report` in a real headless Chromium: no date breaks across lines, no serious or critical axe-core finding.

The termination summary of tests/test_report.py (synthetic) is opened from a file, as a clinician would
open it, at a desktop width and at a narrow one where its tables squeeze their columns ("2025-12-/29" was
seen there). Uses the browser fixture and the axe-core run of tests/test_browser.py.
"""

from __future__ import annotations

import pytest
from test_browser import AXE, CHROMIUM, DRIVER, axe, browser  # noqa: F401 (browser: the fixture, used by name)
from test_report import WHEN, finished_report

from ipt_measures.report import write_report

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER and AXE.exists()),
                       reason="needs chromium, chromium-driver and tests/browser/node_modules (.ci/run installs them)"),
]


@pytest.fixture
def page(tmp_path):
    return write_report(finished_report(tmp_path / "r.db"), tmp_path / "report.html", generated_at=WHEN)


# Every date on the page, found in its text, and how many line boxes it takes there.
DATE_LINES = """
const found = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (node.parentElement.closest('svg, title, style')) continue;
  for (const m of node.textContent.matchAll(/\\d{4}-\\d{2}-\\d{2}/g)) {
    const range = document.createRange();
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
    found.push({date: m[0], lines: tops.size});
  }
}
return found;
"""


@pytest.mark.parametrize("width", [1100, 560])
def test_dates_stay_on_one_line_in_the_browser(browser, page, width):  # noqa: F811 (the fixture)
    """Issue 14: a date wrapped at its hyphens in a narrow column ("2025-12-/29"); measured where it is drawn."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    browser.get(page.as_uri())
    found = browser.execute_script(DATE_LINES)
    assert len(found) > 20
    assert [f for f in found if f["lines"] != 1] == []


def test_axe_core_finds_no_violation_in_the_report(browser, page, record_property):  # noqa: F811 (the fixture)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    browser.get(page.as_uri())
    result = axe(browser)
    record_property("axe_report", result)
    # None at all (the bar is no serious or critical one): landmarks, contrast, table headers, names.
    assert result["violations"] == [], result["violations"]
    assert result["passes"] > 10

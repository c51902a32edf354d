"""The report printed (A4, "Save as PDF"): no table, row or figure cut.

Two checks: the print style sheet itself (always run: the rules that keep rows and figures
whole and tables within the page width are there, and in the page), and, when Debian's
``chromium`` is installed, the page laid out by headless Chromium at the printable width of
A4 (186 mm: 210 mm less the 12 mm margins) with the print rules applied, every table, figure
and image measured to end within the page, and the page printed to a PDF whose header and
pages are checked. The Chromium test is skipped (with the reason) where it is not installed;
CI does not depend on it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_publication_figures import CHINA, figure_run, regions_geojson_of

from gee_cscc.report import write_report
from gee_cscc.report.html import PRINT_CSS, SYNTHETIC_PAGE_CSS, write_html

A4_PRINTABLE_PX = round((210 - 2 * 12) / 25.4 * 96)  # 186 mm at 96 CSS px per inch: 703


def _rules(css: str) -> dict[str, dict[str, str]]:
    """``selector → {property: value}`` of the rules inside ``@media print { … }``."""
    body = css[css.index("@media print") :]
    body = body[body.index("{") + 1 : body.rindex("}")]
    body = re.sub(r"@page\s*\{[^{}]*(\{[^{}]*\}[^{}]*)*\}", "", body)
    rules: dict[str, dict[str, str]] = {}
    for selectors, block in re.findall(r"([^{}]+)\{([^{}]*)\}", body):
        decls = {}
        for decl in block.split(";"):
            if ":" in decl:
                key, value = decl.split(":", 1)
                decls[key.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(decls)
    return rules


def test_print_css_keeps_rows_and_figures_whole_and_tables_in_the_page() -> None:
    rules = _rules(PRINT_CSS)
    for selector in ("tr", "figure", "img"):  # never split across pages
        assert rules[selector]["break-inside"] == "avoid", selector
        assert rules[selector]["page-break-inside"] == "avoid", selector
    assert rules["table"]["width"] == "100%" and rules["table"]["max-width"] == "100%"
    assert "normal" in rules["th"]["white-space"]  # long cells wrap instead of widening
    assert rules["th"]["overflow-wrap"] == "anywhere"
    assert rules[".scroll"]["overflow"] == "visible"  # no scroll box that would clip a column
    assert rules["figure img"]["max-width"].startswith("100%")
    assert rules["thead"]["display"] == "table-header-group"  # headers repeat on each page
    page = re.search(r"@page\s*\{([^{}]*)\}", PRINT_CSS)
    assert page is not None and "size: A4" in page.group(1)
    assert "@top-center" in SYNTHETIC_PAGE_CSS and "SYNTHETIC" in SYNTHETIC_PAGE_CSS


def _report(tmp_path: Path, *, synthetic: bool = True) -> Path:
    out = write_report(
        figure_run(),
        tmp_path,
        regions_geojson=regions_geojson_of(CHINA),
        synthetic=synthetic,
        dpi=40,
    )
    return out["html"]


def test_the_page_carries_the_print_rules(tmp_path: Path) -> None:
    for synthetic in (True, False):
        path = write_html(
            figure_run(), tmp_path / f"{synthetic}.html", figures={}, run_info={},
            synthetic=synthetic,
        )  # fmt: skip
        page = path.read_text(encoding="utf-8")
        assert PRINT_CSS in page
        assert (SYNTHETIC_PAGE_CSS in page) is synthetic


_MEASURE = """<script>
window.addEventListener('load', function () {
  var width = document.documentElement.clientWidth, out = [];
  document.querySelectorAll('table, figure, img').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 0.5) out.push([el.tagName, r.right - width]);
  });
  var pre = document.createElement('pre');
  pre.id = 'overflow';
  pre.textContent = JSON.stringify({width: width, cut: out,
    tables: document.querySelectorAll('table').length});
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


def _layout(browser: str, html: Path) -> dict:
    """Lay the page out with its print rules at the printable width of A4; what sticks out."""
    text = html.read_text(encoding="utf-8").replace("@media print", "@media all")
    probe = html.with_name("probe.html")
    probe.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={A4_PRINTABLE_PX},1100", "--virtual-time-budget=10000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    found = re.search(r'<pre id="overflow">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.mark.slow
def test_chromium_prints_the_report_without_cut_tables(tmp_path: Path) -> None:
    browser = _chromium()
    html = _report(tmp_path)
    layout = _layout(browser, html)
    assert layout["width"] == pytest.approx(A4_PRINTABLE_PX, abs=20)
    assert layout["tables"] >= 5
    assert layout["cut"] == []
    # the same page without its print rules does cut: the check can see a cut table
    bare = html.read_text(encoding="utf-8").replace(PRINT_CSS, "")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "report.html").write_text(bare, encoding="utf-8")
    assert _layout(browser, tmp_path / "bare" / "report.html")["cut"] != []
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", html.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-1.")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    assert pages >= 2
    media = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert media and all(  # A4: 595.28 × 841.89 points
        abs(float(w) - 595.28) < 1.5 and abs(float(h) - 841.89) < 1.5 for w, h in media
    )

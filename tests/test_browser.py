"""A real browser on dialsum's pages: report.html and the optuna-dashboard page of `dialsum dashboard`.

Headless Debian Chromium driven through the DevTools protocol by Playwright (the system browser via
executable_path; Playwright downloads no browser). `make test-browser` installs both and runs these.
Each page: no console errors and no uncaught page errors, every plotly plot div holds rendered SVG
(`.main-svg`), a screenshot in the test's tmp dir (DIALSUM_SCREENSHOT_DIR=docs/screenshots also saves a JPEG there).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from dialsum.analysis.dashboard import start, stop
from dialsum.analysis.report import PLOT_IDS
from dialsum.cli import main
from fake_sweep import build_fake_sweep
from test_dashboard import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install -e '.[browser]' "
                               "(or make test-browser)")
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
STUDY = "fake_study"
TABLE_ONLY = {"top"}     # report sections that are an HTML table, not a plot
RENDER_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs {CHROMIUM}: run `make test-browser` (installs Debian's chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own context: no state between tests) that records console and page errors."""
    context = browser.new_context(viewport=VIEWPORT)
    new_page = context.new_page()
    new_page.errors = []  # type: ignore[attr-defined]
    new_page.on("console", lambda msg: new_page.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error" else None)
    new_page.on("pageerror", lambda err: new_page.errors.append(f"pageerror: {err}"))
    yield new_page
    context.close()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A finished fake sweep (complete, pruned and failed trials with intermediate values)."""
    return build_fake_sweep(tmp_path_factory.mktemp("browser"), name=STUDY)


def svg_count(page: Any, selector: str) -> int:
    """How many rendered plotly SVG layers sit under the selector."""
    return page.locator(f"{selector} .main-svg").count()


def screenshot(page: Any, path: Path) -> Path:
    """Full-page screenshot into the test's tmp dir, copied to DIALSUM_SCREENSHOT_DIR when set."""
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("DIALSUM_SCREENSHOT_DIR")
    if keep:  # for the record (docs/screenshots): JPEG keeps the repository small
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(keep) / f"{path.stem}.jpg"), full_page=True, type="jpeg", quality=60)
    return path


def test_report_html_renders_every_plot(sweep: Path, page: Any, tmp_path: Path) -> None:
    main(["report", str(sweep)])  # the CLI users run
    page.goto((sweep / "report.html").resolve().as_uri(), wait_until="load")
    plots = [plot_id for plot_id in PLOT_IDS if plot_id not in TABLE_ONLY]
    page.locator(f"#{plots[-1]} .main-svg").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    empty = [plot_id for plot_id in plots if svg_count(page, f"#{plot_id}") == 0]
    assert not empty, f"plot divs without rendered SVG: {empty}"
    assert page.locator("#top table tr").count() == 1 + 4 + 2  # header, the 4 completed trials, the 2 pruned
    shot = screenshot(page, tmp_path / "report.png")
    assert shot.stat().st_size > 10_000  # a blank page is a few KB
    assert not page.errors, page.errors


def test_dashboard_lists_the_study_and_draws_its_history(sweep: Path, page: Any, tmp_path: Path) -> None:
    proc, url = start(sweep, port=free_port())  # what `dialsum dashboard <sweep>` serves
    try:
        page.goto(url, wait_until="load")
        link = page.get_by_role("link", name=STUDY)
        link.first.wait_for(timeout=RENDER_TIMEOUT_MS)
        screenshot(page, tmp_path / "dashboard_studies.png")
        link.first.click()
        page.locator("#plot-history .main-svg").first.wait_for(timeout=RENDER_TIMEOUT_MS)
        assert page.locator("#plot-history .main-svg .point").count() > 0  # the trials' markers are drawn
        assert svg_count(page, "#graph-intermediate-values") > 0
        screenshot(page, tmp_path / "dashboard_study.png")
    finally:
        stop(proc)
    assert not page.errors, page.errors


def test_the_checks_see_a_broken_page(page: Any, tmp_path: Path) -> None:
    html = tmp_path / "broken.html"
    html.write_text('<div id="history" class="plot"><div class="plotly-graph-div"></div></div>'
                    '<script>throw new Error("plot script failed")</script>', encoding="utf-8")
    page.goto(html.as_uri(), wait_until="load")
    assert svg_count(page, "#history") == 0
    assert any("plot script failed" in error for error in page.errors), page.errors

"""The HTML reports in a real browser: headless Chromium driven by Selenium, over real HTTP.

Needs Debian's ``chromium`` and ``chromium-driver``; without them the tests skip locally and
fail in CI (``CI=true``). Selenium is given both paths, so it never downloads anything.
``UPDATE_SCREENSHOT=1`` also writes the documentation's screenshots of /geral.html and
/geral/resumo.html.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from datasets import one_account
from stract_reports.simulator import Simulator
from support import in_ci, require_mark, serving

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden"
DOCS = ROOT / "docs"
# Each would mark the page as attacked if it ever ran.
INJECTED_AD = "<script>window.__pwned = 1; document.title = 'pwned'</script>"
INJECTED_IMG = "<img src=x onerror=\"window.__pwned = 2; document.title = 'pwned'\">"
INJECTED_ACCOUNT = '<svg onload="window.__pwned = 3"></svg>'

# Read every cell of the report table at once: one round trip instead of one per cell. Numbers
# are shown formatted; their raw value (as in the CSV) is the cell's data-value.
READ_CELLS = (
    "return Array.from(document.querySelectorAll('#report tbody tr'),"
    " row => Array.from(row.cells, cell => cell.dataset.value ?? cell.textContent));"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, kept off the network but for our loopback server."""
    require_mark("browser")
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        reason = (
            f"a real browser is needed but {', '.join(missing)} is missing; "
            "install it with: apt-get install -y chromium chromium-driver"
        )
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """Serve apps over real HTTP on loopback, each on a threaded werkzeug server; stop them."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app))


@pytest.fixture
def base_url(serve: Callable[[Flask], str], app: Flask) -> str:
    """The real-data report server's URL."""
    return serve(app)


def golden_rows(report: str) -> list[list[str]]:
    """The golden CSV of ``report``, header first."""
    text = GOLDEN.joinpath(f"{report.replace('/', '-')}.csv").read_text("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def column(driver: Any, label: str) -> list[str]:
    """The cells of the column headed ``label``, top to bottom as shown."""
    labels = [th.text.strip() for th in driver.find_elements(By.CSS_SELECTOR, "#report thead th")]
    index = labels.index(label)
    return [row[index] for row in driver.execute_script(READ_CELLS)]


def click_header(driver: Any, label: str) -> None:
    """Click the sort link of the column headed ``label``."""
    for th in driver.find_elements(By.CSS_SELECTOR, "#report thead th"):
        if th.text.strip() == label:
            th.find_element(By.TAG_NAME, "a").click()
            return
    raise AssertionError(f"no column {label!r}")


def test_table_shows_every_row_styled_by_the_nonce_carrying_stylesheet(
    browser: Any, base_url: str
) -> None:
    browser.get(f"{base_url}/geral.html")
    golden = golden_rows("geral")

    assert browser.title == "All platforms: ads"
    assert browser.execute_script(READ_CELLS) == golden[1:]
    assert len(golden) - 1 == 66
    # Computed styles prove the browser applied the inline stylesheet under the CSP.
    style = "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]];"
    assert browser.execute_script(style, "#report tbody td.num", "textAlign") == "right"
    assert browser.execute_script(style, "#report tbody td:first-child", "textAlign") == "left"
    assert browser.execute_script(style, "#report thead th", "position") == "sticky"
    assert browser.execute_script(style, "#report tbody td:first-child", "position") == "sticky"
    assert column(browser, "Spend")[:2] == ["6915.93", "19.7"]
    shown = "return document.querySelector('#report tbody tr').cells[4].textContent;"
    assert browser.execute_script(shown) == "6,915.93"


def test_sorting_is_a_link_that_puts_the_sort_in_the_url(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/geral.html")

    click_header(browser, "Clicks")
    assert browser.current_url == f"{base_url}/geral.html?_sort=Clicks"
    click_header(browser, "Cost Per Click")
    assert browser.current_url == f"{base_url}/geral.html?_sort=Cost+Per+Click"


@contextmanager
def window(driver: Any, width: int, height: int = 844) -> Iterator[None]:
    """The browser's window at ``width`` × ``height`` for a while (390: a phone)."""
    size = driver.get_window_size()
    driver.set_window_size(width, height)
    try:
        yield
    finally:
        driver.set_window_size(size["width"], size["height"])


# Each text of the page's chart: its size as drawn on the screen (font size times the SVG's
# scale), and whether it lies within the chart's box (2 px for a glyph such as "J" that reaches
# left of its origin).
CHART_TEXT = (
    "const svg = document.querySelector('svg.chart'); const box = svg.getBoundingClientRect();"
    "const scale = svg.getScreenCTM().a;"
    "return Array.from(svg.querySelectorAll('text'), t => {"
    " const r = t.getBoundingClientRect();"
    " return [t.textContent, parseFloat(getComputedStyle(t).fontSize) * scale,"
    "  r.left >= box.left - 2 && r.right <= box.right + 2]; });"
)


def test_at_phone_width_the_page_never_scrolls_sideways(browser: Any, base_url: str) -> None:
    with window(browser, 390):
        browser.get(f"{base_url}/geral.html")
        page = browser.execute_script(
            "const d = document.documentElement;"
            "return [d.scrollWidth, d.clientWidth, d.scrollHeight, d.clientHeight];"
        )
        box = browser.execute_script(
            "const m = document.querySelector('main');"
            "return [m.scrollWidth > m.clientWidth, m.scrollHeight > m.clientHeight];"
        )

    assert page[0] <= page[1] and page[2] <= page[3]  # the page itself does not scroll
    assert box == [True, True]  # one box scrolls the table, both ways


@pytest.mark.parametrize("path", ["/", "/geral/resumo.html", "/meta_ads/resumo.html"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_chart_text_is_readable_at_phone_and_desktop_width(
    browser: Any, base_url: str, path: str, width: int
) -> None:
    with window(browser, width):
        browser.get(base_url + path)
        texts = browser.execute_script(CHART_TEXT)

    assert len(texts) >= 2 + 3 * 3  # the legend, then a label and two values per row
    assert [text for text, size, _ in texts if size < 12] == []  # drawn at 12 px or more
    assert [text for text, _, inside in texts if not inside] == []  # none cut by the box
    assert "Spend" in [text for text, _, _ in texts]


def test_at_phone_width_every_column_of_the_index_shows(browser: Any, base_url: str) -> None:
    with window(browser, 390):
        browser.get(f"{base_url}/")
        shown = browser.execute_script(
            "const wrap = document.querySelector('#reports').parentElement;"
            "const d = document.documentElement;"
            "const right = Math.min(wrap.getBoundingClientRect().right, window.innerWidth);"
            "return [wrap.scrollWidth <= wrap.clientWidth, d.scrollWidth <= d.clientWidth,"
            " Array.from(document.querySelectorAll('#reports tbody tr'), row => {"
            "  const link = row.cells[4].querySelector('a');"
            "  return [link.textContent, link.getBoundingClientRect().right <= right]; })];"
        )

    fits, page_fits, xlsx = shown
    assert fits and page_fits  # neither the table's box nor the page scrolls sideways
    assert len(xlsx) == 8 and xlsx == [["XLSX", True]] * 8  # the last column whole, in view


@pytest.fixture
def hostile_url(
    serve: Callable[[Flask], str],
    make_simulator: Callable[..., Simulator],
    make_app: Callable[..., Flask],
) -> str:
    dataset = one_account(
        INJECTED_ACCOUNT,
        [{"name": INJECTED_AD, "clicks": 10}, {"name": INJECTED_IMG, "clicks": 9}],
        labels=[("Ad Name", "name"), ("Clicks", "clicks")],
    )
    return serve(make_app(make_simulator(dataset)))


def test_injected_markup_shows_as_text_and_never_runs(
    browser: Any, hostile_url: str, tmp_path: Path
) -> None:
    browser.get(f"{hostile_url}/hostile.html")

    assert browser.execute_script("return window.__pwned === undefined;") is True
    assert browser.title == "Hostile: ads"
    assert browser.execute_script(READ_CELLS) == [
        ["Hostile", INJECTED_ACCOUNT, INJECTED_AD, "10"],
        ["Hostile", INJECTED_ACCOUNT, INJECTED_IMG, "9"],
    ]
    assert browser.find_elements(By.CSS_SELECTOR, "#report img, #report svg, #report script") == []
    click_header(browser, "Clicks")
    assert browser.current_url == f"{hostile_url}/hostile.html?_sort=Clicks"
    assert browser.execute_script("return window.__pwned === undefined;") is True
    assert browser.save_screenshot(str(tmp_path / "hostile.png"))


def test_index_page_links_to_the_report_pages(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/")

    assert browser.find_element(By.ID, "name").text == "Stract Reports"
    browser.find_element(By.CSS_SELECTOR, 'a[href="/geral/resumo.html"]').click()

    assert browser.current_url == f"{base_url}/geral/resumo.html"
    golden = golden_rows("geral/resumo")
    labels = [th.text.strip() for th in browser.find_elements(By.CSS_SELECTOR, "#report thead th")]
    shown = [golden[0].index(label) for label in labels]  # columns empty in every row are hidden
    assert browser.execute_script(READ_CELLS) == [[row[i] for i in shown] for row in golden[1:]]
    assert len(browser.find_elements(By.CSS_SELECTOR, "main svg.chart rect")) == 2 + 6


@pytest.mark.parametrize("report", ["geral", "geral/resumo"])
def test_screenshot_of_a_report(browser: Any, base_url: str, tmp_path: Path, report: str) -> None:
    browser.get(f"{base_url}/{report}.html")
    shot = tmp_path / "report.png"

    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        target = DOCS / f"screenshot-{report.replace('/', '-')}.png"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(shot.read_bytes())


def test_screenshot_at_phone_width(browser: Any, base_url: str, tmp_path: Path) -> None:
    shot = tmp_path / "phone.png"
    with window(browser, 390):
        browser.get(f"{base_url}/")
        assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        DOCS.joinpath("screenshot-index-390px.png").write_bytes(shot.read_bytes())


@pytest.mark.parametrize("width", [1280, 390])
def test_the_filter_form_facets_and_chips_narrow_and_widen_the_rows(
    browser: Any, base_url: str, tmp_path: Path, width: int
) -> None:
    golden = golden_rows("geral")
    header, rows = golden[0], golden[1:]
    spend, country = header.index("Spend"), header.index("Country")
    with window(browser, width):
        browser.get(f"{base_url}/geral.html")
        Select(browser.find_element(By.NAME, "_filter_column")).select_by_visible_text("Spend")
        Select(browser.find_element(By.NAME, "_filter_op")).select_by_value("gt")
        browser.find_element(By.NAME, "_filter_value").send_keys("1000")
        browser.find_element(By.CSS_SELECTOR, "#filter-form button[type=submit]").click()

        arrive(browser, f"{base_url}/geral.html?Spend__gt=1000")
        big = [row for row in rows if float(row[spend]) > 1000]
        assert browser.execute_script(READ_CELLS) == big
        assert browser.find_element(By.ID, "ad-count").text == f"{len(big)} of 66 ads"
        chips = [chip.text for chip in browser.find_elements(By.CSS_SELECTOR, "#filters .chip")]
        assert chips == ["Spend > “1000” ×"]

        # The page offers Country as a facet: open it, follow US.
        facet = browser.find_element(By.CSS_SELECTOR, 'details.facet[data-column="Country"]')
        facet.find_element(By.TAG_NAME, "summary").click()
        us = facet.find_element(By.LINK_TEXT, "US")
        assert us.is_displayed()
        us.click()
        assert browser.current_url == f"{base_url}/geral.html?Spend__gt=1000&Country=US"
        both = [row for row in big if row[country] == "US"]
        assert browser.execute_script(READ_CELLS) == both and 0 < len(both) < len(big)
        chosen = facet_values(browser, "Country")  # a filter's column keeps its facet
        assert chosen == [("US", str(len(both)))]
        page = browser.execute_script(
            "const d = document.documentElement; return d.scrollWidth <= d.clientWidth;"
        )
        assert page  # the form, chips and facets never make the page scroll sideways
        shot = tmp_path / "explore.png"
        assert browser.save_screenshot(str(shot))

        # Each chip takes its filter away.
        browser.find_element(
            By.CSS_SELECTOR, '#filters a[aria-label^="remove the filter Spend"]'
        ).click()
        assert browser.current_url == f"{base_url}/geral.html?Country=US"
        assert browser.execute_script(READ_CELLS) == [r for r in rows if r[country] == "US"]
        browser.find_element(By.CSS_SELECTOR, "#filters .chip a").click()
        assert browser.current_url == f"{base_url}/geral.html"
        assert len(browser.execute_script(READ_CELLS)) == 66

    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        name = "screenshot-explore.png" if width > 600 else "screenshot-explore-390px.png"
        DOCS.joinpath(name).write_bytes(shot.read_bytes())


def test_a_search_and_an_asked_facet_in_the_browser(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/geral/resumo.html?_facet=Status")
    facet = browser.find_element(By.CSS_SELECTOR, 'details.facet[data-column="Status"]')
    assert facet.get_attribute("open") is not None  # asked: open at once
    search = browser.find_element(By.NAME, "_search")
    search.send_keys("paused")
    search.submit()

    arrive(browser, f"{base_url}/geral/resumo.html?_facet=Status&_search=paused")
    values = facet_values(browser, "Status")
    assert [text for text, _ in values] == ["PAUSED"]
    shown = browser.find_element(By.ID, "ad-count").text
    paused = sum(1 for row in golden_rows("geral")[1:] if "paused" in " ".join(row).casefold())
    assert shown == f"{paused} of 66 ads"
    assert browser.find_element(By.CSS_SELECTOR, "#report tfoot th").text == "Grand total"


def arrive(driver: Any, url: str) -> None:
    """Wait until a submitted form (and the server's redirect) has brought the browser to
    ``url``: unlike a link, a form's submission may return before the new page."""
    try:
        WebDriverWait(driver, 10).until(lambda d: d.current_url == url)
    except TimeoutException:
        raise AssertionError(f"{driver.current_url} is not {url}") from None


def facet_values(driver: Any, column: str) -> list[tuple[str, str]]:
    """(value, count) of a facet's values as the page lists them."""
    items = driver.find_elements(By.CSS_SELECTOR, f'details.facet[data-column="{column}"] li')
    return [
        (
            item.find_element(By.TAG_NAME, "a").get_attribute("textContent"),
            item.find_element(By.CLASS_NAME, "count").get_attribute("textContent"),
        )
        for item in items
    ]


def test_the_csv_link_shows_the_csv_in_the_browser(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/geral.html")
    browser.find_element(By.CSS_SELECTOR, 'a[href="/geral.csv"]').click()

    assert browser.current_url == f"{base_url}/geral.csv"  # shown, not downloaded
    assert browser.execute_script("return document.contentType;") == "text/plain"
    shown = browser.find_element(By.TAG_NAME, "pre").text
    assert shown == GOLDEN.joinpath("geral.csv").read_text("utf-8").replace("\r\n", "\n").strip()


def test_a_sort_link_sorts_the_rows_numbers_as_numbers(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/geral.html")
    click_header(browser, "Spend")

    spend = [float(cell) for cell in column(browser, "Spend")]
    assert spend == sorted(spend) and len(spend) == 66
    click_header(browser, "Spend")  # again: descending
    assert browser.current_url == f"{base_url}/geral.html?_sort_desc=Spend"
    assert [float(cell) for cell in column(browser, "Spend")] == sorted(spend, reverse=True)


def test_pages_follow_one_another_with_the_options_kept(browser: Any, base_url: str) -> None:
    golden = golden_rows("geral")
    browser.get(f"{base_url}/geral.html?Platform=Facebook Ads&_size=20")

    assert browser.execute_script(READ_CELLS) == golden[1:21]
    browser.find_element(By.CSS_SELECTOR, 'a[rel="next"]').click()
    assert browser.execute_script(READ_CELLS) == golden[21:41]
    browser.find_element(By.CSS_SELECTOR, 'a[rel="next"]').click()
    assert browser.execute_script(READ_CELLS) == golden[41:43]  # meta's last 2 of 42 ads
    assert browser.find_elements(By.CSS_SELECTOR, 'a[rel="next"]') == []


def test_the_summary_chart_is_drawn_with_a_bar_per_value(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/geral/resumo.html")

    chart = browser.find_element(By.CSS_SELECTOR, "main svg.chart")
    assert chart.size["width"] > 300 and chart.size["height"] > 100
    bars = browser.find_elements(By.CSS_SELECTOR, "main svg.chart rect")
    assert len(bars) == 2 + 3 * 2  # the legend's two swatches, Spend and Clicks per platform
    titles = [t.get_attribute("textContent") for t in chart.find_elements(By.TAG_NAME, "title")]
    assert "TikTok: Clicks 41,717" in titles

"""The HTML report of a run with a seeded fault, read in a real headless browser.

A short run of the conformance suite with ``update.ignores-rv`` writes Allure
results; Allure 3 (installed by ``make report-tools`` into .tools/) builds the
report with the repository's allurerc.mjs; a loopback HTTP server serves it;
Debian's chromium, driven by Selenium through chromedriver, opens it as a
person would: the failed test in the tree, its invariant category, its shrunk
steps with the failing call's request and response, and the reproduction.

Without chromium, chromedriver, Selenium or Allure the test is skipped and
says what is missing (``make report-tools`` installs them); in CI (``CI`` set)
it fails instead, so a lost install step cannot pass unseen.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.report.conftest import FAILED, REPO, reported_rules, run_pytest

ALLURE = REPO / ".tools" / "node_modules" / ".bin" / "allure"
STALE = "api.optimistic-concurrency"
TEST = "test_apiserver[0]"
WAIT = 30


def _missing() -> list[str]:
    missing = [f"{name} (Debian package {pkg})" for name, pkg in (("chromium", "chromium"),
                                                                   ("chromedriver", "chromium-driver"))
               if shutil.which(name) is None]
    if not ALLURE.exists():
        missing.append(f"Allure 3 ({ALLURE.relative_to(REPO)})")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    return missing


@pytest.fixture(scope="module")
def tools() -> None:
    missing = _missing()
    if missing:
        message = f"report browser test needs {', '.join(missing)}: run make report-tools"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def report(tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL of the served HTML report, pytest's output of the run it reports)."""
    tmp = tmp_path_factory.mktemp("report")
    run = run_pytest(tmp, f"{REPO}/conformance/test_apiserver.py::{TEST}", "--fault", "update.ignores-rv",
                     "--hypothesis-seed=0")
    assert run.returncode == 1, run.output
    html = tmp / "html"
    env = {**os.environ, "KUBEPROP_ALLURE_RESULTS": str(run.results),
           "KUBEPROP_ALLURE_HISTORY": str(tmp / "history.jsonl")}
    subprocess.run([str(ALLURE), "generate", "--config", str(REPO / "allurerc.mjs"), "--output", str(html),
                    str(run.results)], cwd=tmp, env=env, check=True, capture_output=True, timeout=120)
    assert (html / "index.html").exists()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", run.output
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1400", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        if request.node.stash.get(FAILED, False):
            driver.save_screenshot(str(tmp_path / "failure.png"))  # what the browser showed, to look at
        driver.quit()



def _wait_for(driver: Any, css: str, text: str) -> Any:
    """The first element matching ``css`` whose text contains ``text``, once the page shows it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(d: Any) -> Any:
        return next((e for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), False)

    return WebDriverWait(driver, WAIT).until(find, f"no {css} showing {text!r}")


# the titles of the steps directly under a container (not their sub-steps); the test's own error closes the
# test body as an entry titled by its message ("[invariant] ..."), which is no step
CHILD_STEP_TITLES = """
const root = arguments[0];
return [...root.querySelectorAll('[data-testid=test-result-step]')]
  .filter(s => s.parentElement.closest('[data-testid=test-result-step], [data-testid=test-result-steps-root]') === root)
  .map(s => s.querySelector('[data-testid=test-result-step-title]').textContent.trim())
  .filter(title => !title.startsWith('['));
"""


def test_report_shows_failure_category_and_shrunk_steps(report: tuple[str, str], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, output = report
    browser.get(url)
    leaf = _wait_for(browser, "[data-testid=tree-leaf-title]", TEST)
    assert STALE in leaf.text, leaf.text
    leaf.click()

    _wait_for(browser, "[data-testid=test-result-info-title]", TEST)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert f"Category: {STALE}" in body or "Category: " in body and STALE in body, body[:2000]
    error = _wait_for(browser, "[data-testid=test-result-error-message]", f"[{STALE}]")
    assert "expected HTTP 409" in error.text

    # the steps are the rules of the minimal example Hypothesis reported, and only those
    expected = reported_rules(output, TEST, STALE)
    assert 0 < len(expected) <= 12, output
    root = browser.find_element(By.CSS_SELECTOR, "[data-testid=test-result-steps-root]")
    titles = browser.execute_script(CHILD_STEP_TITLES, root)
    group = f"{STALE}: shrunk sequence"
    if group in titles:  # the run broke more than one invariant: each has its own sequence
        root = next(s for s in root.find_elements(By.CSS_SELECTOR, "[data-testid=test-result-step]")
                    if s.find_element(By.CSS_SELECTOR, "[data-testid=test-result-step-title]").text == group)
        titles = browser.execute_script(CHILD_STEP_TITLES, root)
    assert titles == expected

    # the failing step is open: its write, accepted with a stale resourceVersion (200), with request, response,
    # the model's expectation and the difference
    _wait_for(browser, "[data-testid=test-result-step-title]", ") → 200")
    headers = browser.find_elements(By.CSS_SELECTOR, "[data-testid=test-result-attachment-header]")
    attachments = [e.text for e in headers]
    for name in ("request", "response", "expected (model)", "difference",
                 "reproduction: repro_api_optimistic_concurrency.py", "operation history"):
        assert any(name in a for a in attachments), (name, attachments)


def test_categories_tab_groups_the_failure_by_invariant(report: tuple[str, str], browser: Any) -> None:
    url, _ = report
    browser.get(url)
    _wait_for(browser, "[data-testid=nav-tab-categories]", "Categories").click()
    section = _wait_for(browser, "[data-testid=tree-section-title]", STALE)
    assert section.text.strip().startswith(STALE)

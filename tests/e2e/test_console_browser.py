"""The operator console in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
installed by ``make test``), driven by Selenium, against a real gunicorn process.

The server runs the test settings (the ``eventprobe`` module) with one attempt per publication, so
an order from ``once@...`` leaves a dead letter whose resubmit succeeds. The test logs in as staff,
sees every module in the graph and the dead letter with its error, watches the live rates move
while orders are placed, presses Resubmit and sees the publication completed.

``SEAMS_CONSOLE_SCREENSHOT=docs/console.png`` also saves the page (with the dead letter, before the
resubmit) there: that is how the README's screenshot is made (see docs/observability.md).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ROOT, gunicorn, manage, project_env, throwaway_database
from tests.support.tokens import customer

pytestmark = pytest.mark.e2e

PASSWORD = "console-e2e-password"
ORDER = {"lines": [{"sku": "KB-101", "quantity": 1}]}
WAIT = 60  # seconds a page condition may take on a loaded machine (no assertion on timing)


def chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver, (
        "The console's browser test needs Debian's chromium and chromium-driver: "
        "apt-get install -y chromium chromium-driver (make test installs them when absent)."
    )
    return browser, driver


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with throwaway_database(tmp_path) as db_env:
        env = project_env(
            {
                **db_env,
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "SEAMS_EVENT_MAX_ATTEMPTS": "1",
                "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            }
        )
        manage(["migrate_modules"], env)
        manage(["seed_shop"], env)
        manage(["createsuperuser", "--noinput", "--username", "operator", "--email", "operator@example.com"], env)
        # One worker: the probe counts attempts in its process, so the resubmit must land where the
        # first attempt failed.
        with gunicorn(env, log=tmp_path / "gunicorn.log", options=("--workers", "1")) as base:
            yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1320,1400"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def place_order(base: str, email: str) -> dict[str, object]:
    response = httpx.post(f"{base}/api/orders/", json=ORDER, headers=customer(email), timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def keep_ordering(base: str, stop: threading.Event) -> None:
    """Customer traffic while the page polls, so the rates have something to show."""
    i = 0
    while not stop.is_set():
        place_order(base, f"ada{i}@example.com")
        i += 1
        stop.wait(0.3)


def test_the_console_shows_the_system_and_resubmits_a_dead_letter(server: str, browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # The page rebuilds each health badge (innerHTML = "", a new span) every HEALTH_EVERY: a badge
    # found by one poll can be replaced before its .text is read, which is another poll, not a failure.
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    place_order(server, "once@example.com")  # the probe fails its first attempt: a dead letter

    browser.get(f"{server}/console/")
    assert "/admin/login/" in browser.current_url  # staff only: anonymous users log in first
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Anchored at both ends: the login page's own URL (/admin/login/?next=/console/) ends with
    # "/console/" too, so an unanchored pattern let the test look for the graph on the login form
    # whenever the click's navigation was slower than the first poll (the stop-15 CI failure).
    wait.until(ec.url_matches(rf"^{re.escape(server)}/console/$"))
    wait.until(ec.presence_of_element_located((By.ID, "node-catalog")))

    # The graph: every module, calls and events between them, where each runs.
    for label in ("catalog", "inventory", "orders", "notifications", "eventprobe"):
        assert browser.find_element(By.ID, f"node-{label}").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, 'g.edge.call[data-source="orders"][data-target="catalog"]')
    assert browser.find_elements(By.CSS_SELECTOR, 'g.edge.event[data-source="orders"][data-target="inventory"]')

    # The dead letter, with its error and its button.
    row = browser.find_element(By.CSS_SELECTOR, "tr.dead-letter")
    ref = row.get_attribute("data-ref")
    assert ref and ref.startswith("orders:")
    assert "ProbeFailure: once attempt 1" in row.text
    assert "orders.OrderPlaced" in row.text

    # Health from health.json, rates from stats.json: place orders between two polls.
    health = 'tr[data-module="orders"] [data-field="health"] .badge'
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, health).text == "healthy")
    published = 'tr[data-module="orders"] [data-field="published"]'
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, published).text not in {"–", "…"})
    stop = threading.Event()
    traffic = threading.Thread(target=keep_ordering, args=(server, stop), daemon=True)
    traffic.start()
    try:
        wait.until(lambda b: float(b.find_element(By.CSS_SELECTOR, published).text) > 0)
        assert browser.find_element(By.CSS_SELECTOR, 'tr[data-module="orders"] [data-field="dead"]').text == "1"
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1320, height + 24)  # the whole page, no empty band below it
        browser.save_screenshot(str(tmp_path / "console.png"))
    finally:
        stop.set()
        traffic.join(timeout=WAIT)
    target = os.environ.get("SEAMS_CONSOLE_SCREENSHOT")
    if target:
        shutil.copyfile(tmp_path / "console.png", ROOT / target)

    # Resubmit: the page comes back saying the publication is completed, and the list is empty.
    browser.find_element(By.CSS_SELECTOR, f'button[data-resubmit-ref="{ref}"]').click()
    notice = wait.until(ec.presence_of_element_located((By.ID, "resubmitted")))
    assert "Resubmitted 1 dead letter." in notice.text
    assert browser.find_element(By.CSS_SELECTOR, f'#resubmitted .status[data-ref="{ref}"]').text == "completed"
    assert browser.find_element(By.ID, "no-dead-letters").text == "No dead letters."

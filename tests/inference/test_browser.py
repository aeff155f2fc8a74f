"""The chat page as a person uses it, in headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by selenium): refused without the key, then a chat round-trip with it.

Skipped when chromium, chromedriver or selenium is missing. The browser resolves no host but
127.0.0.1, so the test cannot reach the network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.inference.conftest import API_KEY

CHROMIUM = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def chat_server(engine) -> Iterator:
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    # A short answer (the page's max-tokens slider starts at the limit) keeps the test quick.
    settings = ServerSettings(api_key=API_KEY, ui=True, max_tokens_limit=12)
    with ServerThread(create_app(settings, engine)) as server:
        yield server


@pytest.fixture()
def browser(chat_server, tmp_path) -> Iterator:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download drivers
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()  # before the server stops: Gradio keeps a stream open per page


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def test_browser_is_refused_without_the_key_then_chats_with_it(chat_server, engine, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url = chat_server.url
    browser.get(f"{url}/")
    assert browser.title == "ftk chat: sign in"
    assert not browser.find_elements(By.CSS_SELECTOR, "gradio-app, textarea")

    # What the page's scripts would call, tried from the page without a session.
    statuses = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const form = new FormData();
        form.append("files", new Blob(["x"]), "x.txt");
        Promise.all([
          fetch("/config").then(r => r.status),
          fetch("/gradio_api/upload", {method: "POST", body: form}).then(r => r.status),
          fetch("/gradio_api/queue/join", {method: "POST", body: "{}"}).then(r => r.status),
        ]).then(done);"""
    )
    assert statuses == [401, 401, 401]

    browser.find_element(By.ID, "key").send_keys("not-the-key" + Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "error"))
    assert "Wrong key" in _body(browser)
    assert not browser.get_cookies()

    browser.find_element(By.ID, "key").send_keys(API_KEY + Keys.ENTER)
    box = WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "textarea"))[
        0
    ]
    [cookie] = browser.get_cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert API_KEY not in cookie["value"]

    before = engine.stats().completed
    box.send_keys("Hello" + Keys.ENTER)
    WebDriverWait(browser, 120).until(lambda _: engine.stats().completed > before)

    def bot_says(driver) -> list[str]:
        found = driver.find_elements(By.CSS_SELECTOR, '[data-testid="bot"]')
        return [e.text for e in found if e.text.strip()]

    assert len(WebDriverWait(browser, 30).until(bot_says)) == 1
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, '[data-testid="user"]')] == [
        "Hello"
    ]

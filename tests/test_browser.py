"""/docs and the dashboard in a real headless browser (Debian's chromium, driven by playwright), offline.

"Offline": chromium resolves no host name (``--host-resolver-rules``) and every request the page makes
to anything but the mock's own 127.0.0.1 port is recorded and refused; each test ends by asserting
there was none. The browser is the system's ``/usr/bin/chromium`` (never a downloaded one); if it
cannot start, the tests fail and say why.

Set ``DASHBOARD_SCREENSHOT=path.png`` to keep the dashboard as the test leaves it (the README's picture).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from helpers import ok_receiver

from contract_tests import MockHandle
from contract_tests import ThreadedMockServer
from mock_server import MockConfig
from mock_server import Scenario
from mock_server.resources import fixtures_dir

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
TOKEN = "user:7-browser-token-AbCdEf"
WAIT_MS = 15_000

SCENARIO = """
name: browser check
description: The manual clock and one queued fault, to see both on the dashboard.
config:
  clock: manual
faults:
  - {fault: "server_error:503", endpoint: account, count: 3}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium with an empty profile (playwright's ``launch`` gives it a new temporary one)."""
    from playwright.sync_api import Error
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        try:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Error as exc:
            pytest.fail(f"cannot start {CHROMIUM} (Debian packages chromium and chromium-driver, "
                        f"tools/system-packages.txt): {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    with ok_receiver() as url:
        yield url


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockHandle]:
    scenario = tmp_path_factory.mktemp("scenario") / "browser.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    with ThreadedMockServer(MockConfig(), scenario=Scenario.load(scenario)) as server:
        yield MockHandle(server, TOKEN)
        server.check()


@pytest.fixture
def page(browser: Any, mock: MockHandle) -> Iterator[Any]:
    """A page whose requests may reach the mock only; anything else is refused and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    own = urlsplit(mock.url).netloc

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert outside == [], f"the page tried to reach the network: {outside}"
    assert errors == [], f"the page raised: {errors}"


def test_docs_show_both_contracts_with_no_network(page: Any, mock: MockHandle) -> None:
    from playwright.sync_api import expect

    page.goto(f"{mock.url}/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("PixVerse", timeout=WAIT_MS)
    expect(page.locator(".opblock-summary-path", has_text="/v1/pixverse/meme_face").first).to_be_visible()
    page.locator(".topbar select").select_option(label="pixverse-mock control plane (/__mock/)")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("control plane", timeout=WAIT_MS)
    expect(page.locator(".opblock-summary-path", has_text="/__mock/clock/advance").first).to_be_visible()


def test_dashboard_follows_a_client_live(page: Any, mock: MockHandle, receiver: str) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{mock.url}/__mock/")
    expect(page.locator("#scenario")).to_have_text("browser check")
    expect(page.locator("#fault-list")).to_contain_text("server_error:503 on account, 3 more")
    expect(page.locator("#clock")).to_have_text("2026-01-01T00:00:00.000Z")
    expect(page.locator("#tenants")).to_contain_text("No jobs yet")

    # The client: one good submit with a callback, one that breaks the spec (no prompt).
    face = (fixtures_dir() / "faces" / "face.png").read_bytes()
    files = {"face": ("face.png", face, "image/png")}
    good = requests.post(f"{mock.base_url}/pixverse/meme_face", headers=mock.headers, files=files, timeout=10,
                         data={"prompt": "A girl laughing by the seaside", "replyUrl": receiver})
    assert good.status_code == 200, good.text
    jobid = good.json()["jobid"]
    bad = requests.post(f"{mock.base_url}/pixverse/meme_face", headers=mock.headers, files=files, timeout=10)
    assert bad.status_code == 400

    job = page.locator(f'tr.job[data-jobid="{jobid}"]')
    expect(job).to_contain_text("started", timeout=WAIT_MS)
    expect(page.locator(".tenant h2").first).to_contain_text("use…secured…dEf")  # the token, masked
    requests_table = page.locator("#request-rows")
    expect(requests_table.locator("tr.request")).to_have_count(2)
    rejected = requests_table.locator("tr.request", has_text="400")
    expect(rejected.locator(".violation").first).to_contain_text("prompt")
    expect(page.locator("#callback-rows")).to_contain_text("No callbacks yet")

    page.locator("#advance").click()  # 10 s of mock time: the job completes and calls back
    expect(page.locator("#clock")).to_have_text("2026-01-01T00:00:10.000Z", timeout=WAIT_MS)
    expect(job.locator(".status")).to_have_text("completed", timeout=WAIT_MS)
    expect(job.locator("a", has_text="video 1")).to_have_attribute("href", re.compile(r"/attachments/.+\.mp4$"))
    callback = page.locator("#callback-rows tr.callback")
    expect(callback).to_contain_text(jobid, timeout=WAIT_MS)
    expect(callback.locator("td.ok")).to_contain_text("200")
    assert TOKEN not in page.content()
    screenshot = os.environ.get("DASHBOARD_SCREENSHOT")
    if screenshot:
        page.set_viewport_size({"width": 1400, "height": 520})
        page.screenshot(path=str(Path(screenshot)), full_page=True)

    page.locator("#reset").click()
    expect(page.locator("#tenants")).to_contain_text("No jobs yet", timeout=WAIT_MS)
    expect(page.locator("#request-rows")).to_contain_text("No requests yet")

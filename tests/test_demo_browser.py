"""The demo page in a real browser: Playwright driving Debian's Chromium through the whole flow."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from werkzeug.serving import make_server

from app import create_app

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this machine refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

playwright_api = pytest.importorskip("playwright.sync_api")


class CodeCatcher(logging.Handler):
    """Reads the codes the console provider writes to its log."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r" is (\d+),", record.getMessage())
        if match:
            self.codes.append(match.group(1))


@pytest.fixture
def served() -> Iterator[tuple[str, CodeCatcher]]:
    """The app as `make run` serves it (console provider, memory store, default limits), on a free port."""
    app = create_app({"OTP_PROVIDER": "console", "OTP_STORE_URL": "memory://", "OTP_COOKIE_SECURE": "false"})
    catcher = CodeCatcher()
    console_log = logging.getLogger("app.console")
    console_log.addHandler(catcher)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", catcher
    server.shutdown()
    console_log.removeHandler(catcher)


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium must be installed at /usr/bin/chromium under CI (apt-get install chromium)")
        pytest.skip("no Chromium at /usr/bin/chromium")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_the_whole_flow_in_a_browser(served: tuple[str, CodeCatcher], page: object, tmp_path: Path) -> None:
    base, catcher = served
    p = page  # playwright's Page
    problems: list[str] = []
    # Chromium reports every 4xx answer as a console error ("Failed to load resource"); those are expected.
    p.on("console", lambda msg: problems.append(msg.text)  # type: ignore[attr-defined]
         if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    p.on("pageerror", lambda exc: problems.append(str(exc)))  # type: ignore[attr-defined]
    expect = playwright_api.expect
    status = p.locator("#status")  # type: ignore[attr-defined]

    p.goto(base)  # type: ignore[attr-defined]
    p.fill("#phone", "+1 (415) 555-2671")  # type: ignore[attr-defined]
    p.click("#send")  # type: ignore[attr-defined]
    expect(status).to_have_text(re.compile("on its way"))
    expect(p.locator("#code-form")).to_be_visible()  # type: ignore[attr-defined]
    [code] = catcher.codes
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"

    p.fill("#code", wrong)  # type: ignore[attr-defined]
    p.click("#verify")  # type: ignore[attr-defined]
    expect(status).to_have_text(re.compile("invalid"))
    expect(status).to_have_class("error")

    p.fill("#code", code)  # type: ignore[attr-defined]
    p.click("#verify")  # type: ignore[attr-defined]
    expect(status).to_have_text(re.compile("verified"))
    expect(status).to_have_class("ok")
    # Success shows the verified number and the token's claims, and focus moves to the heading.
    expect(p.locator("#verified-number")).to_have_text("+14155552671")  # type: ignore[attr-defined]
    expect(p.locator("#verified-heading")).to_be_focused()  # type: ignore[attr-defined]
    claims = json.loads(p.locator("#claims").text_content())  # type: ignore[attr-defined]
    assert claims["phone_number"] == "+14155552671" and claims["phone_number_verified"] is True
    assert claims["amr"][0] == "otp" and claims["iss"] == base
    p.screenshot(path=str(tmp_path / "verified.png"))  # type: ignore[attr-defined]

    # A second code for the same number inside the resend cooldown: the person is told when to retry.
    p.goto(base)  # type: ignore[attr-defined]
    p.fill("#phone", "+14155552671")  # type: ignore[attr-defined]
    p.click("#send")  # type: ignore[attr-defined]
    expect(status).to_have_text(re.compile(r"Try again in \d+ seconds"))
    expect(status).to_have_class("error")
    p.screenshot(path=str(tmp_path / "rate-limited.png"))  # type: ignore[attr-defined]

    assert (tmp_path / "verified.png").stat().st_size > 1000
    assert problems == []  # no script error and no Content-Security-Policy violation


def test_the_cookie_alone_carries_the_verification_and_scripts_cannot_read_it(
        served: tuple[str, CodeCatcher], page: object) -> None:
    base, catcher = served
    page.goto(base)  # type: ignore[attr-defined]
    page.fill("#phone", "+14155552671")  # type: ignore[attr-defined]
    page.click("#send")  # type: ignore[attr-defined]
    playwright_api.expect(page.locator("#code-form")).to_be_visible()  # type: ignore[attr-defined]
    [code] = catcher.codes
    [stored] = [c for c in page.context.cookies() if c["name"] == "otp_verification"]  # type: ignore[attr-defined]
    assert stored["httpOnly"] and stored["sameSite"] == "Strict" and stored["path"] == "/"

    # A form-style post from the page with the code only: the browser's cookie names the verification.
    answer = page.evaluate("""code => fetch('/check-otp', {method: 'POST', body: new URLSearchParams({code})})
        .then(r => r.json().then(body => ({status: r.status, body})))""", code)  # type: ignore[attr-defined]

    assert answer["status"] == 200 and answer["body"]["verified"] is True
    assert page.evaluate("document.cookie") == ""  # type: ignore[attr-defined]  # HttpOnly
    # Cleared when the verification ended.
    assert [c for c in page.context.cookies() if c["name"] == "otp_verification"] == []  # type: ignore[attr-defined]


def test_a_bad_number_is_explained(served: tuple[str, CodeCatcher], page: object) -> None:
    base, catcher = served
    page.goto(base)  # type: ignore[attr-defined]
    page.fill("#phone", "4155552671")  # type: ignore[attr-defined]
    page.click("#send")  # type: ignore[attr-defined]

    playwright_api.expect(page.locator("#status")).to_have_text(  # type: ignore[attr-defined]
        re.compile("international format"))
    assert catcher.codes == []


def test_with_a_captcha_site_key_the_page_renders_the_widget_and_sends_its_token(page: object) -> None:
    app = create_app({"OTP_PROVIDER": "console", "OTP_CAPTCHA": "turnstile", "OTP_CAPTCHA_SECRET": "s",
                      "OTP_CAPTCHA_SITE_KEY": "1x00000000000000000000AA"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "")  # type: ignore[attr-defined]
            if r.url.endswith("/request-otp") else None)
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}")  # type: ignore[attr-defined]
        widget = page.locator("#phone-form .cf-turnstile")  # type: ignore[attr-defined]
        playwright_api.expect(widget).to_have_attribute("data-sitekey", "1x00000000000000000000AA")
        # The provider's script cannot load here; stand in for the token input the widget would add.
        page.evaluate("""() => { const i = document.createElement('input'); i.type = 'hidden';
            i.name = 'cf-turnstile-response'; i.value = 'widget-token';
            document.getElementById('phone-form').appendChild(i); }""")  # type: ignore[attr-defined]
        with responses.RequestsMock() as siteverify:
            siteverify.add(responses.POST, "https://challenges.cloudflare.com/turnstile/v0/siteverify",
                           json={"success": True})
            page.fill("#phone", "+14155552671")  # type: ignore[attr-defined]
            page.click("#send")  # type: ignore[attr-defined]
            playwright_api.expect(page.locator("#code-form")).to_be_visible()  # type: ignore[attr-defined]
            [call] = siteverify.calls
    finally:
        server.shutdown()

    assert json.loads(posted[-1])["captchaToken"] == "widget-token"
    assert "response=widget-token" in str(call.request.body)

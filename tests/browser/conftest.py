"""Fixtures for the browser tests of the HTML site (reports/site) in headless Chromium.

The tests drive Debian's chromium (``apt-get install chromium fonts-noto-cjk``) through
Playwright for Python; Playwright's own browser downloads are never used. Without Chromium,
Playwright or a built site the tests skip, except under CI (``CI=true``), where each of those
is a failure: CI must run them. BROWSER_TESTS_CHROMIUM names another Chromium executable.

One browser, one context and one page are shared by the whole session; the site is served over
http from a thread on 127.0.0.1 with an ephemeral port.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from analysis import config

SITE_DIR = config.PROJECT_ROOT / "reports" / "site"
SCREENSHOT_DIR = config.PROJECT_ROOT / "reports" / "screenshots"

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ENABLE_HINT = ("to run the browser tests, install Debian's chromium and CJK fonts: "
               "apt-get install chromium fonts-noto-cjk")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail under CI, where the browser tests must run."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's chromium, or the executable named by BROWSER_TESTS_CHROMIUM."""
    override = os.environ.get("BROWSER_TESTS_CHROMIUM")
    if override:
        return shutil.which(override)
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


# ---------------------------------------------------------------------------------------------
# A static http server on 127.0.0.1, in a thread


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class SiteServer:
    """Serves ``directory`` over http on 127.0.0.1 with an ephemeral port, from a thread."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        handler = functools.partial(_QuietHandler, directory=str(self.directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name=f"site-server-{self.directory.name}")
        self.thread.start()

    def url(self, name: str) -> str:
        return self.base_url + name

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def serve() -> Iterator[Callable[[Path], SiteServer]]:
    """A factory: ``serve(directory)`` starts a server, stopped at the end of the session."""
    servers: list[SiteServer] = []

    def start(directory: Path) -> SiteServer:
        server = SiteServer(directory)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def site_dir() -> Path:
    if not (SITE_DIR / "index.html").is_file():
        skip_or_fail(f"{SITE_DIR / 'index.html'} does not exist: run make reports first")
    return SITE_DIR


@pytest.fixture(scope="session")
def site(site_dir: Path, serve) -> SiteServer:
    return serve(site_dir)


# ---------------------------------------------------------------------------------------------
# The browser: Debian's chromium driven by Playwright


class Tab:
    """The session's one page, with the console errors, page errors and failed requests seen
    since the last ``visit``."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if message.type == "error":
            location = message.location or {}
            where = location.get("url", "")
            if urlsplit(where).path == "/favicon.ico":
                return   # the browser's own request for a favicon no page asked for
            if where and location.get("lineNumber") is not None:
                where += f":{location['lineNumber'] + 1}"
            suffix = f" ({where})" if where else ""
            self.problems.append(f"console error: {message.text}{suffix}")

    def _on_request_failed(self, request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url} "
                             f"({request.failure or 'no reason given'})")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status} for {response.url}")

    def visit(self, url: str, *, width: int = 1400, height: int = 900, media: str = "screen"):
        """Navigate to ``url`` at the given viewport and media, and wait for load and fonts."""
        # Leave the previous page first, so that its late events (requests aborted by leaving
        # it) are not blamed on this one.
        self.page.goto("about:blank")
        self.problems = []
        self.page.set_viewport_size({"width": width, "height": height})
        self.page.emulate_media(media=media)
        response = self.page.goto(url, wait_until="load")
        self.page.evaluate("() => document.fonts ? document.fonts.ready.then(() => true) : true")
        return response


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (it is pinned in requirements.lock: "
                     "make venv)")
    executable = chromium_path()
    if executable is None:
        looked = os.environ.get("BROWSER_TESTS_CHROMIUM") or " or ".join(CHROMIUM_CANDIDATES)
        skip_or_fail(f"Chromium was not found ({looked}); {ENABLE_HINT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def tab(browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  device_scale_factor=1, locale="en-US")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield Tab(page)
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """reports/screenshots, emptied of the last run's screenshots."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOT_DIR.glob("*.png"):
        old.unlink()
    return SCREENSHOT_DIR

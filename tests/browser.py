"""Headless Chromium for page tests (Debian's ``chromium`` and ``chromium-driver``; .ci/run
installs them): a page opened from a ``file://`` URL with the network blocked three ways,
every request the page made (Chrome DevTools' ``Network.requestWillBeSent`` events from
chromedriver's performance log), and a full-page screenshot.

The network is blocked by host resolution (every name maps to nothing), by a proxy on a
closed loopback port for every scheme, and by DevTools' offline emulation; the request log is
what the page *tried*, blocked or not, so a page that asks any host for anything is seen.
"""

from __future__ import annotations

import json
import shutil
import struct
import time
from base64 import b64decode
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL = (
    "headless Chromium is needed: apt-get install -y chromium chromium-driver "
    "(.ci/run installs them)"
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def _binary(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@contextmanager
def browser(width: int = 1280, height: int = 1000):
    """A headless Chromium driven by chromedriver, the network blocked; yields the driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_binary = _binary("chromium", "chromium-browser"), _binary("chromedriver")
    if not chromium or not driver_binary:
        pytest.fail(INSTALL)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",  # nothing connects
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_binary), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {
                "offline": True,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
            },
        )
        yield driver
    finally:
        driver.quit()


def open_page(driver, path: Path, ready: str | None = None, timeout: float = 60.0) -> None:
    """Load ``path`` as a ``file://`` URL; with ``ready`` (a JavaScript expression), wait
    until it is true (``AssertionError`` after ``timeout`` seconds)."""
    driver.get(Path(path).resolve().as_uri())
    if ready is None:
        return
    deadline = time.monotonic() + timeout
    while not driver.execute_script(f"return Boolean({ready});"):
        if time.monotonic() > deadline:
            logs = driver.get_log("browser")
            raise AssertionError(
                f"the page was not ready ({ready}) after {timeout:.0f}s; console: {logs[-5:]}"
            )
        time.sleep(0.1)


def requests_made(driver) -> list[str]:
    """Every URL the page asked for since it was opened, in order (the performance log is
    emptied by reading it): documents, scripts, images, fonts, fetches, websockets."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def screenshot(driver, path: Path) -> tuple[int, int]:
    """The whole page (not just the window) as a PNG at ``path``; returns (width, height)
    read back from the file's header."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    data = b64decode(shot["data"])
    Path(path).write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG"
    return struct.unpack(">II", data[16:24])

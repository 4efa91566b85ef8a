"""What the browser tests share: Debian's chromium through Playwright (never `playwright install`), `evidence
serve` of a database on a free port, and the folder screenshots go to (``EVIDENCE_SCREENSHOTS``)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)"
)


@contextmanager
def browser_page(width: int = 1280, height: int = 720):
    """A page of Debian's chromium at ``width`` × ``height``, and the messages of the dialogs it opens."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
            + ["--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            yield page, dialogs
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(db: Path):
    """`evidence serve` of ``db`` on a free port, as a user starts it: its base URL once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("evidence")), "serve", str(db), "--port", str(port), "-w", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def screenshots_folder(fallback: Path) -> Path:
    """Where screenshots go: ``EVIDENCE_SCREENSHOTS`` if set (for people to look at), else ``fallback``."""
    folder = Path(os.environ.get("EVIDENCE_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
